# Counters per configuration: one panel per counter, one cluster of bars per
# configuration, one bar per model. Values per inference where the harness
# wrote them (ctr:EVENT/inf), measured on each model's reference placement.
panels = '@PANELS@'   # panel titles (counters)
logy = '@LOGY@'       # 1: log scale for that panel
ylo = '@YLO@'; yhi = '@YHI@'   # y range per panel (from the data, padded)
ncols = '@NCOLS@'     # bars per cluster (models with a value) in each panel
set multiplot layout @LAYOUT@ title "@TITLE@"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set xtics rotate by -40 font ",8"
set key top left font ",8"
do for [k = 1:words(panels)] {
    set title word(panels, k)
    if (word(logy, k) + 0) { set logscale y } else { unset logscale y }
    set yrange [word(ylo, k) + 0 : word(yhi, k) + 0]
    plot for [c = 2:word(ncols, k) + 1] "@NAME@.dat" index (k - 1) using c:xtic(1) title columnheader(c)
}
unset multiplot
