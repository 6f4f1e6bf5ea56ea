# Per-layer sensitivity from layers.csv: the accuracy lost (pp) when only
# that layer is quantized, one line per quantized cell, one panel per model.
panels = '@PANELS@'   # panel titles (models)
blocks = '@BLOCKS@'   # data blocks (cells) in each panel
colors = '@COLORS@'   # line type of each block
set multiplot layout 1, words(panels) title "@TITLE@"
set xlabel "layer"
set ylabel "sensitivity (pp)"
set xtics rotate by -30
set offsets 0.3, 0.3, 0, 0
set key top right font ",8"
ylo = '@YLO@'; yhi = '@YHI@'   # y range per panel (from the data, padded)
first = 0
do for [m = 1:words(panels)] {
    n = word(blocks, m) + 0
    set title word(panels, m)
    set yrange [word(ylo, m) + 0 : word(yhi, m) + 0]
    plot for [i = first:first + n - 1] "@NAME@.dat" index i using 1:2:xtic(3) with linespoints lw 2 pt 7 lc (word(colors, i + 1) + 0) title columnheader(1)
    first = first + n
}
unset multiplot
