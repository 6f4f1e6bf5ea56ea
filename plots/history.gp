# One metric across runs (oldest first), one line per cell; circles mark
# the steps (a change from the previous run that the next run confirms).
nlines = @NLINES@     # data blocks 0..nlines-1 are cells; block nlines holds the steps
set title "@TITLE@"
set xrange [-0.5:@NRUNS@ - 0.5]
set xlabel "run (oldest first)"
set ylabel "@YLABEL@"
set xtics rotate by -30 font ",8"
set key outside right font ",8"
set yrange [@YLO@ : @YHI@]   # from the data, padded
plot for [i = 0:nlines - 1] "@NAME@.dat" index i using 1:2:xtic(3) with linespoints lw 2 pt 7 title columnheader(1)@STEPS@
