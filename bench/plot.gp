# plot.gp
#	bench/accuracy.png from the data files bench/accuracy.py writes in DIR,
#	which also sets the key's capacity and rate.
#	Run as: gnuplot -e "datadir='DIR'; output='FILE'" plot.gp

load datadir."/accuracy-params.gp"

set terminal pngcairo size 1000,900 font "sans,10"
set output output
set multiplot layout 3,1 title sprintf("One key saturated by %d clients after a reset: " . \
	"capacity %d, %g tokens/s", clients, capacity, rate)
set grid
set xlabel "seconds since the reset"
set key top right

# Grants in each 100 ms, against the rate's share of 100 ms.
set ylabel "grants per 100 ms"
set yrange [0:*]
set style fill solid 0.6 noborder
plot datadir."/accuracy-bins.dat" using ($1 + 0.05):2:(0.1) with boxes lc rgb "#3070b0" \
		title "granted", \
	rate * 0.1 with lines lw 2 lc rgb "#d04020" title "rate x 100 ms"

# Every grant so far, against the most the bucket may grant by then.
set ylabel "grants so far"
set key top left
plot datadir."/accuracy-grants.dat" using 1:3 with lines lw 3 lc rgb "#d04020" \
		title "capacity + rate x t", \
	"" using 1:2 with steps lw 1 lc rgb "#3070b0" title "granted"

# How far below the envelope the count stays: 0 means on it, never below 0.
set ylabel "envelope - granted (tokens)"
set yrange [-0.5:2]
set key top right
plot datadir."/accuracy-grants.dat" using 1:($3 - $2) with steps lc rgb "#3070b0" \
		title "capacity + rate x t - granted", \
	0 with lines lw 2 lc rgb "#d04020" title "the envelope"

unset multiplot
