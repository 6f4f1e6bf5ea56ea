# @NAME@.gp: written by qbench from @NAME@.dat. Restyle freely, then render:
#   gnuplot -e "fmt='svg'" @NAME@.gp     (fmt='png' is the default)
if (!exists("fmt")) fmt = "png"
if (!exists("out")) out = "@NAME@." . fmt
if (fmt eq "svg") {
    set terminal svg size @WIDTH@,@HEIGHT@ dynamic noenhanced font "Sans,11" background rgb "white"
} else {
    set terminal pngcairo size @WIDTH@,@HEIGHT@ noenhanced font "Sans,10"
}
set output out
# Twelve distinct colours, so that up to twelve schemes or configurations
# keep apart (gnuplot's own set repeats after eight).
array palette[12] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", \
                     "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#000000", "#aec7e8"]
do for [i = 1:12] { set linetype i lc rgb palette[i] lw 1.5 }
set linetype cycle 12
set datafile missing "?"
set grid back lc rgb "#dddddd"
set border lc rgb "#555555"
