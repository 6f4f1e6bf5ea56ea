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
set datafile missing "?"
set grid back lc rgb "#dddddd"
set border lc rgb "#555555"
