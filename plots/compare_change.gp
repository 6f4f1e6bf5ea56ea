# Change of every compared cell by the gate's metric, sorted: positive is
# slower. Colour by verdict; the dashed lines are the slowdown threshold.
series = '@SERIES@'   # data blocks drawn (empty verdicts are left out)
colors = '@COLORS@'   # one colour per drawn block
set title "@TITLE@"
set xlabel "cells, sorted by change"
set ylabel "@YLABEL@"
set key top left
set xrange [0:@NCELLS@ + 1]
set style fill solid 0.8
set boxwidth 0.8
set offsets 0, 0, graph 0.08, graph 0.08
plot for [k = 1:words(series)] "@NAME@.dat" index (word(series, k) + 0) using 1:2 with boxes lc rgb word(colors, k) title columnheader(1), \
     @THRESH@ with lines dt 2 lc rgb "#555555" notitle, \
     -@THRESH@ with lines dt 2 lc rgb "#555555" notitle
