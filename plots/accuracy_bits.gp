# Accuracy drop against weight bits: one line per scheme, one panel per model.
# Each point is the scheme's best configuration at that bit width; the dotted
# lines are the 0.5, 1 and 2 pp accuracy budgets.
panels = '@PANELS@'   # panel titles (models)
blocks = '@BLOCKS@'   # data blocks (schemes) in each panel, in file order
colors = '@COLORS@'   # line type of each block: a scheme keeps its colour
set multiplot layout 1, words(panels) title "@TITLE@"
set logscale x 2
set xtics (1, 2, 3, 4, 5, 6, 8, 16)
set xlabel "weight bits"
set ylabel "accuracy drop vs fp32 (pp)"
set key top right
xlo = '@XLO@'; xhi = '@XHI@'   # axis ranges per panel (from the data, padded)
ylo = '@YLO@'; yhi = '@YHI@'
first = 0
do for [m = 1:words(panels)] {
    n = word(blocks, m) + 0
    set title word(panels, m)
    set xrange [word(xlo, m) + 0 : word(xhi, m) + 0]
    set yrange [word(ylo, m) + 0 : word(yhi, m) + 0]
    plot for [i = first:first + n - 1] "@NAME@.dat" index i using 1:2 with linespoints lw 2 pt 7 lc (word(colors, i + 1) + 0) title columnheader(1), \
         for [b in "0.5 1 2"] real(b) with lines dt 3 lc rgb "#888888" notitle
    first = first + n
}
unset multiplot
