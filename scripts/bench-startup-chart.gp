# The startup chart: one horizontal bar per peer (its median startup, ms),
# whiskers from the 10th to the 90th percentile of all its runs, fastest on
# top. scripts/bench-startup.sh writes the data and runs:
#
#   gnuplot -e "data='D'; out='OUT.svg'; rows=N; t1='TITLE'; t2='MACHINE'; foot='NOTE'" \
#           scripts/bench-startup-chart.gp
#
# data columns: y (1 = bottom), peer, median, p10, p90, bar colour as an
# integer 0xRRGGBB (calyx stands out in red, the floor in grey).
# Percentiles rather than min–max: one descheduled run on a noisy VM would
# otherwise set the whisker.

set terminal svg size 960, (150 + 44 * rows) dynamic enhanced font "sans,13" background rgb "white"
set output out
set encoding utf8

set title t1 . "\n" . t2 noenhanced font "sans,13"
set xlabel "startup of /usr/bin/true, ms — bar: median; whiskers: 10th–90th percentile" noenhanced
if (strlen(foot) > 0) set label 1 foot noenhanced at screen 0.01, screen 0.02 left font "sans,11" tc rgb "#555555"

unset key
set border 3
set tics nomirror
set ytics scale 0 noenhanced
set xtics out
set grid xtics lc rgb "#e0e0e0" lw 1
# stats first: it honours a yrange set before it
stats data using 5 nooutput name "P90"
set yrange [0.4 : rows + 0.6]
set xrange [0 : P90_max * 1.18]
set offsets 0, 0, 0, 0
set bmargin 5
set style fill solid 0.9 noborder

h = 0.33 # half a bar's height
plot data using (0):1:(0):3:($1 - h):($1 + h):6:ytic(2) with boxxyerror lc rgb variable, \
     data using 3:1:4:5 with xerrorbars pt 0 ps 0 lc rgb "#222222" lw 1.3, \
     data using 5:1:(sprintf("%.2f ms", $3)) with labels left offset char 0.8, 0 font "sans,11" noenhanced
