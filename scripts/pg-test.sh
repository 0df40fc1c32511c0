#!/bin/sh
# A throwaway PostgreSQL server for tests and benchmarks: initdb into a
# temporary directory, a server listening only on a unix socket there, one
# database. Nothing outside that directory is touched.
#
#   eval "$(scripts/pg-test.sh start)"   # sets BATON_TEST_PG (libpq URL) and BATON_TEST_PG_DIR
#   ... tests read BATON_TEST_PG ...
#   scripts/pg-test.sh stop "$BATON_TEST_PG_DIR"
#   scripts/pg-test.sh restart DIR       # fast restart (fault-injection tests)
#
# initdb refuses to run as root, so as root the server runs as the
# `postgres` user that Debian's package creates. Binaries: $PG_BIN, else the
# newest /usr/lib/postgresql/*/bin, else PATH. Extra server settings can be
# passed in $PG_TEST_OPTS.
#
# The server runs with fsync=off unless PG_TEST_FSYNC=on: tests kill and
# restart processes (Baton's, or the server with an immediate stop), never
# the machine, and a commit written to the operating system survives those;
# waiting for the disk would only make the suite slower. Benchmarks set
# PG_TEST_FSYNC=on to measure the real commit cost.
set -eu

find_bin() {
  if [ -n "${PG_BIN:-}" ]; then echo "$PG_BIN"; return; fi
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -n "$d" ] && [ -x "$d/initdb" ]; then echo "$d"; return; fi
  p=$(command -v initdb 2>/dev/null || true)
  if [ -n "$p" ]; then dirname "$p"; return; fi
  echo "pg-test: no PostgreSQL server binaries (initdb) found; install postgresql" >&2
  exit 1
}

as_owner() { # run as the owner of the data directory
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

PORT=${PG_TEST_PORT:-54329}

start() {
  B=$(find_bin)
  D=$(mktemp -d "${TMPDIR:-/tmp}/baton-pg.XXXXXX")
  chmod 755 "$D"
  mkdir -p "$D/data" "$D/sock"
  [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$D"
  chmod 700 "$D/data"
  as_owner "$B/initdb" -D "$D/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync \
    >"$D/initdb.log" 2>&1 || { cat "$D/initdb.log" >&2; exit 1; }
  echo "$B" >"$D/bindir"
  echo "$PORT" >"$D/port"
  run_server "$D"
  as_owner "$B/createdb" -h "$D/sock" -p "$PORT" -U postgres baton_test
  echo "BATON_TEST_PG='postgresql://postgres@/baton_test?host=$D/sock&port=$PORT'; export BATON_TEST_PG"
  echo "BATON_TEST_PG_DIR='$D'; export BATON_TEST_PG_DIR"
}

run_server() { # dir
  D=$1
  B=$(cat "$D/bindir")
  PORT=$(cat "$D/port")
  as_owner "$B/pg_ctl" -D "$D/data" -l "$D/server.log" -w -t 60 \
    -o "-c listen_addresses='' -c unix_socket_directories='$D/sock' -c port=$PORT \
        -c max_connections=200 -c fsync=${PG_TEST_FSYNC:-off} ${PG_TEST_OPTS:-}" start >/dev/null ||
    { cat "$D/server.log" >&2; exit 1; }
}

stop() { # dir
  D=$1
  [ -f "$D/bindir" ] || { rm -rf "$D"; return 0; }
  B=$(cat "$D/bindir")
  as_owner "$B/pg_ctl" -D "$D/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$D"
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:?usage: pg-test.sh stop DIR}" ;;
  kill) # stop the server but keep its files (a "crash": fault-injection tests)
    B=$(cat "${2:?dir}/bindir"); as_owner "$B/pg_ctl" -D "$2/data" -m immediate -w stop >/dev/null ;;
  restart) # stop (immediately, as a crash would) and start again
    B=$(cat "${2:?dir}/bindir"); as_owner "$B/pg_ctl" -D "$2/data" -m immediate -w stop >/dev/null
    run_server "$2" ;;
  resume) run_server "${2:?dir}" ;;
  *) echo "usage: pg-test.sh start | stop DIR | kill DIR | resume DIR | restart DIR" >&2; exit 2 ;;
esac
