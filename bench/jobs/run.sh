#!/bin/sh
# Job round trips (activate + complete) over HTTP against `baton serve`,
# beside the store's commit limit measured in the same run
# (docs/performance.md, "## Jobs").
#
#   bench/jobs/run.sh BUILD_DIR [SECONDS] [ROUNDS]
#
# For 1, 8 and 32 worker connections, ROUNDS times (default 3) for SECONDS
# each (default 3), on SQLite and on PostgreSQL (a throwaway server from
# scripts/pg-test.sh with fsync=on):
#   - the commit limit, as bench/store measures it (bench-store sqlite-commit;
#     pgbench with a one-row-insert transaction);
#   - bench-jobs: worker threads over /v1/jobs (activate maxJobs 1, complete);
#   - the same through /engine-rest with Camunda's official client
#     (bench/jobs/c7bench.mjs; needs npm ci --prefix tests/c7client).
# Each run gets a fresh database with 2 x WORKERS + 8 instances of
# bench/jobs/loop.bpmn, whose one job comes back with each completion.
set -eu
BUILD=${1:?usage: bench/jobs/run.sh BUILD_DIR [SECONDS] [ROUNDS]}
SECS=${2:-3}
ROUNDS=${3:-3}
WORKERS=${WORKERS:-1 8 32}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BATON="$BUILD/cli/baton"
JOBS="$BUILD/bench/jobs/bench-jobs"
STORE="$BUILD/bench/store/bench-store"
for x in "$BATON" "$JOBS" "$STORE"; do
  [ -x "$x" ] || { echo "no $x: ninja -C $BUILD" >&2; exit 1; }
done
[ -d "$ROOT/tests/c7client/node_modules" ] ||
  { echo "run npm ci --prefix tests/c7client first" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/baton-bench-jobs.XXXXXX")
OUT="$WORK/results"
PG_DIR=""
SRV=""
cleanup() {
  [ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null
  [ -n "$PG_DIR" ] && "$ROOT/scripts/pg-test.sh" stop "$PG_DIR"
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

eval "$(PG_TEST_FSYNC=on PG_TEST_PORT=54352 "$ROOT/scripts/pg-test.sh" start)"
PG_DIR=$BATON_TEST_PG_DIR
PG=$BATON_TEST_PG
PGB=$(cat "$PG_DIR/bindir")
psql -q "$PG" -c "CREATE TABLE commit_limit (id BIGSERIAL PRIMARY KEY, v INTEGER,
                    at TIMESTAMPTZ DEFAULT now())"
echo "INSERT INTO commit_limit (v) VALUES (1);" >"$WORK/insert.sql"

pg_fresh() { # name -> URL
  psql -q "$PG" -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $1" \
    -c "CREATE DATABASE $1"
  echo "$PG" | sed "s|/baton_test?|/$1?|"
}

record() { # label line
  echo "$1 round=$r $2" >>"$OUT"
  echo "$1 round=$r $2" >&2
}

serve() { # db -> BASE (server pid in SRV)
  "$BATON" serve --db "$1" --listen 127.0.0.1:0 --deploy "$ROOT/bench/jobs/loop.bpmn" \
    --log-level warn >"$WORK/serve.out" 2>>"$WORK/serve.log" &
  SRV=$!
  for _ in $(seq 100); do
    port=$(grep -o '127.0.0.1:[0-9]*' "$WORK/serve.out" 2>/dev/null | head -n 1 || true)
    [ -n "$port" ] && break
    sleep 0.1
  done
  BASE="http://$port"
}

unserve() {
  kill "$SRV"
  wait "$SRV" || true
  SRV=""
}

jobs_on() { # store-label db workers
  serve "$2"
  "$JOBS" preload "$BASE" $(($3 * 2 + 8)) >/dev/null
  record "$1-jobs-$3" "$("$JOBS" run "$BASE" "$3" "$SECS" | tail -n 1)"
  record "$1-c7-$3" "$(node "$ROOT/bench/jobs/c7bench.mjs" "$BASE" "$3" "$SECS" | tail -n 1)"
  unserve
}

for r in $(seq "$ROUNDS"); do
  for c in $WORKERS; do
    record "sqlite-commit-$c" "$("$STORE" sqlite-commit "$WORK" "$c" "$SECS" | tail -n 1)"
    rm -f "$WORK"/b.db* "$WORK"/j.db*
    jobs_on sqlite "sqlite:$WORK/j.db" "$c"
    record "pg-commit-$c" "$("$PGB/pgbench" -n -M prepared -T "$SECS" -c "$c" -j "$c" \
      -f "$WORK/insert.sql" "$PG" 2>/dev/null |
      awk '/^tps/ { printf "kind=pgbench clients=%s commits_per_s=%.0f\n", c, $3 }' c="$c")"
    jobs_on pg "$(pg_fresh bench_jobs_${r}_$c)" "$c"
  done
done

value() { # label key [round]
  awk -v l="$1" -v k="$2" -v r="${3:-}" '$1 == l && (r == "" || $2 == "round=" r) {
      for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) print kv[2] } }' "$OUT"
}
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print 0 }'; }
ratio() { # store kind workers: median over rounds of round trips / commits
  for rr in $(seq "$ROUNDS"); do
    awk -v a="$(value "$1-$2-$3" round_trips_per_s "$rr")" \
      -v b="$(value "$1-commit-$3" commits_per_s "$rr")" 'BEGIN { printf "%.2f\n", (b > 0 ? a / b : 0) }'
  done | median
}

echo
echo "medians of $ROUNDS rounds of $SECS s; $(nproc) CPUs"
printf "%-7s %7s %10s %10s %6s %8s %10s %6s %8s\n" store workers "commits/s" "v1 rt/s" ratio \
  "p99 ms" "c7 rt/s" ratio "p99 ms"
for s in sqlite pg; do
  for c in $WORKERS; do
    printf "%-7s %7s %10s %10s %6s %8s %10s %6s %8s\n" "$s" "$c" \
      "$(value "$s-commit-$c" commits_per_s | median)" \
      "$(value "$s-jobs-$c" round_trips_per_s | median)" "$(ratio "$s" jobs "$c")" \
      "$(value "$s-jobs-$c" p99_ms | median)" \
      "$(value "$s-c7-$c" round_trips_per_s | median)" "$(ratio "$s" c7 "$c")" \
      "$(value "$s-c7-$c" p99_ms | median)"
  done
done
