#!/bin/sh
# plot.sh - the scale curves of one bench/run as a PNG (gnuplot), from the
# tables that run wrote: scale-load.tsv, scale-tokens.tsv,
# scale-waiting-sqlite.tsv, scale-waiting-pg.tsv (docs/performance.md, "## Scale").
#
#   bench/scale/plot.sh RESULTS_DIR OUT.png
#
# Four panels, log-log: load time against diagram size (with libxml2 alone
# and a linear reference), job completion time against waiting tokens, the
# server's peak resident memory against waiting instances, and timers fired
# per second against pending timers.
set -eu
DIR=${1:?usage: plot.sh RESULTS_DIR OUT.png}
PNG=${2:?usage: plot.sh RESULTS_DIR OUT.png}
for f in scale-load.tsv scale-tokens.tsv scale-waiting-sqlite.tsv scale-waiting-pg.tsv; do
  [ -s "$DIR/$f" ] || { echo "plot.sh: no $DIR/$f" >&2; exit 1; }
done
term="pngcairo size 1400,1000 font 'sans,11'"
echo 'set terminal' | gnuplot 2>&1 | grep -q pngcairo || term="png size 1400,1000"

# the linear reference of the load panel goes through the 1,000-element point
ref=$(awk -F'\t' 'NR > 1 && $1 >= 900 && $1 <= 1100 { print $2 / $1; exit }' "$DIR/scale-load.tsv")
ref=${ref:-0.002}

gnuplot <<EOF
set terminal $term
set output '$PNG'
set datafile separator '\t'
set key top left box opaque
set logscale xy
set grid
set multiplot layout 2,2 title "Baton: how cost grows with work (bench/run, one run on one machine)"

set title 'Load + validate against diagram size'
set xlabel 'flow elements'
set ylabel 'ms'
plot '$DIR/scale-load.tsv' using 1:2 skip 1 with linespoints lw 2 pt 7 title 'Baton loader', \
     '' using 1:3 skip 1 with linespoints lw 2 pt 5 title 'libxml2 alone (DOM)', \
     $ref * x with lines dt 2 lc rgb 'gray' title 'linear'

set title 'Job completion against waiting tokens (one instance, N parallel branches)'
set xlabel 'parallel branches waiting'
set ylabel 'us per completion'
plot '$DIR/scale-tokens.tsv' using 1:3 skip 1 with linespoints lw 2 pt 7 title 'in memory, first 100 (oldest first)', \
     '' using 1:4 skip 1 with linespoints lw 2 pt 5 title 'in memory, mean (newest first)', \
     '' using 1:(\$6 > 0 ? \$6 : 1/0) skip 1 with linespoints lw 2 pt 9 title 'in memory, mean (oldest first)', \
     '' using 1:(\$10 * 1000) skip 1 with linespoints lw 2 pt 11 title 'durable on SQLite'

set title 'Server resident memory against waiting instances'
set xlabel 'waiting instances'
set ylabel 'MiB'
set logscale y 2
plot '$DIR/scale-waiting-sqlite.tsv' using 1:(\$6 / 1024) skip 1 with linespoints lw 2 pt 7 title 'SQLite, peak', \
     '' using 1:(\$4 / 1024) skip 1 with linespoints lw 2 pt 6 dt 2 title 'SQLite, fresh', \
     '$DIR/scale-waiting-pg.tsv' using 1:(\$6 / 1024) skip 1 with linespoints lw 2 pt 5 title 'PostgreSQL, peak', \
     '' using 1:(\$4 / 1024) skip 1 with linespoints lw 2 pt 4 dt 2 title 'PostgreSQL, fresh'

set title 'Timers fired per second among pending timers'
set xlabel 'pending timers'
set ylabel 'timers/s (each its own transaction)'
set logscale y 10
plot '$DIR/scale-waiting-sqlite.tsv' using 1:3 skip 1 with linespoints lw 2 pt 7 title 'SQLite', \
     '$DIR/scale-waiting-pg.tsv' using 1:3 skip 1 with linespoints lw 2 pt 5 title 'PostgreSQL'
unset multiplot
EOF
