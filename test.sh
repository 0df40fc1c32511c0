#!/bin/sh
# Baton's whole test suite, as CI runs it:
#   1. gcc build with -Wall -Wextra -Werror, every suite (unit, parser, expr,
#      scenarios, fuzz corpus replay, corpus conformance, ...);
#   2. clang build with AddressSanitizer + UndefinedBehaviorSanitizer, every suite again.
# Usage: ./test.sh [meson test arguments, e.g. --suite unit]
set -eu
cd "$(dirname "$0")"
./scripts/deps.sh

# Differential FEEL tests need the oracle's node packages (pinned by its lock file).
if [ -f tests/expr/oracle/package-lock.json ]; then
  npm ci --prefix tests/expr/oracle --no-audit --no-fund --loglevel=error
fi
# The Camunda 7 worker API is proven with Camunda's own client (pinned by its lock file).
npm ci --prefix tests/c7client --no-audit --no-fund --loglevel=error

corpus_opts="-Drequire_corpus=${BATON_CI:-false}"

setup() { # dir, options...
  dir=$1; shift
  if [ -d "$dir" ]; then meson setup --reconfigure "$dir" "$@" >/dev/null
  else meson setup "$dir" "$@" >/dev/null; fi
}

# A throwaway PostgreSQL for the store tests (scripts/pg-test.sh): one server
# for both builds, its URL in BATON_TEST_PG, stopped on exit whatever happens.
# In CI a PostgreSQL that cannot start fails the run (its tests never skip).
if [ -z "${BATON_TEST_PG:-}" ]; then
  if pg_env=$(./scripts/pg-test.sh start); then
    eval "$pg_env"
    trap './scripts/pg-test.sh stop "$BATON_TEST_PG_DIR"' EXIT
    trap 'exit 130' INT TERM
  elif [ "${BATON_CI:-false}" = true ]; then
    echo "test.sh: cannot start PostgreSQL" >&2
    exit 1
  else
    echo "test.sh: no PostgreSQL: its tests are skipped" >&2
  fi
fi

setup _build/test -Dwerror=true -Dbuildtype=debugoptimized $corpus_opts
ninja -C _build/test
meson test -C _build/test --print-errorlogs --num-processes 2 "$@"

CC=clang setup _build/asan -Dwerror=true -Dbuildtype=debug -Db_sanitize=address,undefined \
  -Db_lundef=false $corpus_opts
ninja -C _build/asan
meson test -C _build/asan --print-errorlogs --num-processes 2 --timeout-multiplier 3 "$@"
echo "all tests passed"
