# Accuracy against @XWHAT@, one panel per model: one point per
# configuration (colour by scheme) and the Pareto front (no other
# configuration is both more accurate and @BETTER@), labelled.
panels = '@PANELS@'   # panel titles (models)
blocks = '@BLOCKS@'   # data blocks per panel: one per scheme, then the front
colors = '@COLORS@'   # line type of each block: a scheme keeps its colour
set multiplot layout 1, words(panels) title "@TITLE@"
set logscale x
set xlabel "@XLABEL@"
set ylabel "top-1 accuracy (%)"
set key bottom right
xlo = '@XLO@'; xhi = '@XHI@'   # axis ranges per panel (from the data, padded)
ylo = '@YLO@'; yhi = '@YHI@'
xtics = '@XTICS@'   # tic positions per panel (comma-separated)
first = 0
do for [m = 1:words(panels)] {
    n = word(blocks, m) + 0
    front = first + n - 1
    set title word(panels, m)
    set xrange [word(xlo, m) + 0 : word(xhi, m) + 0]
    eval sprintf("set xtics (%s)", word(xtics, m))
    set yrange [word(ylo, m) + 0 : word(yhi, m) + 0]
    plot for [i = first:front - 1] "@NAME@.dat" index i using 1:2 with points pt 7 ps 1.3 lc (word(colors, i + 1) + 0) title columnheader(1), \
         "@NAME@.dat" index front using 1:2 with steps dt 2 lw 1.5 lc rgb "black" title "Pareto front", \
         "" index front using 1:2:3 with labels left offset 0.7,0.5 font ",8" notitle
    first = first + n
}
unset multiplot
