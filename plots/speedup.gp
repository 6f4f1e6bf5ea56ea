# Speedup over fp32 (same model, placement and scenario, same run) for each
# placement, one line per configuration, one panel per model.
panels = '@PANELS@'   # panel titles (models)
blocks = '@BLOCKS@'   # data blocks (configurations) in each panel
colors = '@COLORS@'   # line type of each block: a configuration keeps its colour
set multiplot layout 1, words(panels) title "@TITLE@"
set xrange [-0.5:@NPLACE@ - 0.5]
set xlabel "placement (threads)"
set ylabel "speedup over fp32 (x)"
set key outside bottom center horizontal font ",8"
ylo = '@YLO@'; yhi = '@YHI@'   # y range per panel (from the data, padded)
first = 0
do for [m = 1:words(panels)] {
    n = word(blocks, m) + 0
    set title word(panels, m)
    set yrange [word(ylo, m) + 0 : word(yhi, m) + 0]
    plot for [i = first:first + n - 1] "@NAME@.dat" index i using 1:2:xtic(3) with linespoints lw 2 pt 7 lc (word(colors, i + 1) + 0) title columnheader(1), \
         1 with lines dt 2 lc rgb "#888888" notitle
    first = first + n
}
unset multiplot
