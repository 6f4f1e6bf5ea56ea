# Two runs overlaid: accuracy against latency, one panel per model, the
# baseline's points hollow and the current run's filled, each model on the
# baseline's reference placement.
panels = '@PANELS@'   # panel titles (models)
set multiplot layout 1, words(panels) title "@TITLE@"
set logscale x
set xlabel "median latency per repetition (ms, log scale)"
set ylabel "top-1 accuracy (%)"
set key bottom right
xlo = '@XLO@'; xhi = '@XHI@'   # axis ranges per panel (from the data, padded)
ylo = '@YLO@'; yhi = '@YHI@'
xtics = '@XTICS@'   # tic positions per panel (comma-separated)
do for [m = 1:words(panels)] {
    set title word(panels, m)
    set xrange [word(xlo, m) + 0 : word(xhi, m) + 0]
    eval sprintf("set xtics (%s)", word(xtics, m))
    set yrange [word(ylo, m) + 0 : word(yhi, m) + 0]
    plot "@NAME@.dat" index (2 * m - 2) using 1:2 with points pt 6 ps 1.6 lc rgb "#777777" title columnheader(1), \
         "" index (2 * m - 1) using 1:2 with points pt 7 ps 1.0 lc rgb "#c0392b" title columnheader(1)
}
unset multiplot
