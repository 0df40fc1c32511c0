#!/bin/sh
# Durable throughput of Baton against the machine's commit limit, in the same
# run (docs/performance.md, "## Stores").
#
#   bench/store/run.sh BUILD_DIR [SECONDS] [ROUNDS]
#
# For 1 and 8 concurrent clients, alternating so drift on a shared machine
# hits both sides alike, ROUNDS times (default 3) for SECONDS each (default 5):
#   - SQLite: a one-row-insert-per-transaction loop (WAL, synchronous=FULL)
#     and Baton on a SQLite file (synchronous=full: each acknowledged step
#     is on disk), both in a temporary directory under ${TMPDIR:-/tmp};
#   - PostgreSQL: pgbench with a one-row-insert transaction and Baton on the
#     same server (a throwaway one from scripts/pg-test.sh, fsync=on).
# Then Baton again, paced at half its median peak, for the step latency.
# Prints the medians and the ratios (Baton steps/s over commits/s).
set -eu
BUILD=${1:?usage: bench/store/run.sh BUILD_DIR [SECONDS] [ROUNDS]}
SECS=${2:-5}
ROUNDS=${3:-3}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BENCH="$BUILD/bench/store/bench-store"
[ -x "$BENCH" ] || { echo "no $BENCH: ninja -C $BUILD bench/store/bench-store" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/baton-bench-store.XXXXXX")
OUT="$WORK/results"
PG_DIR=""
cleanup() {
  [ -n "$PG_DIR" ] && "$ROOT/scripts/pg-test.sh" stop "$PG_DIR"
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

eval "$(PG_TEST_FSYNC=on PG_TEST_PORT=54350 "$ROOT/scripts/pg-test.sh" start)"
PG_DIR=$BATON_TEST_PG_DIR
PG=$BATON_TEST_PG
PGB=$(cat "$PG_DIR/bindir")
psql -q "$PG" -c "CREATE TABLE commit_limit (id BIGSERIAL PRIMARY KEY, v INTEGER,
                    at TIMESTAMPTZ DEFAULT now())"
echo "INSERT INTO commit_limit (v) VALUES (1);" >"$WORK/insert.sql"

# a fresh database per Baton run, so every run starts from the same size
pg_fresh() { # name -> URL
  psql -q "$PG" -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $1" \
    -c "CREATE DATABASE $1"
  echo "$PG" | sed "s|/baton_test?|/$1?|"
}

run() { # label, command...: append "label round=R key=value..." to the results
  label=$1; shift
  line=$("$@" | tail -n 1)
  echo "$label round=${r:-0} $line" >>"$OUT"
  echo "$label round=${r:-0} $line" >&2
}

pgbench_tps() { # clients
  "$PGB/pgbench" -n -M prepared -T "$SECS" -c "$1" -j "$1" -f "$WORK/insert.sql" "$PG" 2>/dev/null |
    awk '/^tps/ { printf "kind=pgbench clients=%s commits_per_s=%.0f\n", c, $3 }' c="$1"
}

for r in $(seq "$ROUNDS"); do
  for c in 1 8; do
    run "sqlite-commit-$c" "$BENCH" sqlite-commit "$WORK" "$c" "$SECS"
    rm -f "$WORK"/b.db*
    run "sqlite-baton-$c" "$BENCH" baton "sqlite:$WORK/b.db" "$c" "$SECS"
    run "pg-commit-$c" pgbench_tps "$c"
    run "pg-baton-$c" "$BENCH" baton "$(pg_fresh bench_${r}_$c)" "$c" "$SECS"
  done
done

value() { # label key [round]: the values, one per line
  awk -v l="$1" -v k="$2" -v r="${3:-}" '$1 == l && (r == "" || $2 == "round=" r) {
      for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) print kv[2] } }' "$OUT"
}

median() { # values on stdin -> their median
  sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print 0 }'
}

# the ratio of each round (Baton and its baseline ran one after the other), then the median
ratio() { # store clients
  for rr in $(seq "$ROUNDS"); do
    awk -v a="$(value "$1-baton-$2" steps_per_s "$rr")" -v b="$(value "$1-commit-$2" commits_per_s "$rr")" \
      'BEGIN { printf "%.2f\n", (b > 0 ? a / b : 0) }'
  done | median
}

# latency at half of the median peak
for c in 1 8; do
  half=$(awk -v p="$(value "sqlite-baton-$c" steps_per_s | median)" 'BEGIN { printf "%.0f", (p / 2) }')
  rm -f "$WORK"/b.db*
  run "sqlite-half-$c" "$BENCH" baton "sqlite:$WORK/b.db" "$c" "$SECS" "$half"
  half=$(awk -v p="$(value "pg-baton-$c" steps_per_s | median)" 'BEGIN { printf "%.0f", (p / 2) }')
  run "pg-half-$c" "$BENCH" baton "$(pg_fresh bench_half_$c)" "$c" "$SECS" "$half"
done

echo
echo "medians of $ROUNDS rounds of $SECS s (ratio: median of the rounds' ratios); $(nproc) CPUs"
printf "%-7s %7s %10s %10s %11s %6s %8s %15s %9s\n" store clients "commits/s" "steps/s" \
  "instances/s" ratio "p99 ms" "steps/s at half" "p99 ms"
for s in sqlite pg; do
  for c in 1 8; do
    printf "%-7s %7s %10s %10s %11s %6s %8s %15s %9s\n" "$s" "$c" \
      "$(value "$s-commit-$c" commits_per_s | median)" "$(value "$s-baton-$c" steps_per_s | median)" \
      "$(value "$s-baton-$c" instances_per_s | median)" "$(ratio "$s" "$c")" \
      "$(value "$s-baton-$c" p99_ms | median)" "$(value "$s-half-$c" steps_per_s | median)" \
      "$(value "$s-half-$c" p99_ms | median)"
  done
done
