#!/bin/sh
# Run one scenario file with `baton test`. Corpus scenarios live outside the
# project: when the corpus is absent the test fails if BATON_REQUIRE_CORPUS=1
# (CI) and otherwise says loudly that it did not run.
# usage: run-scenario.sh BATON SCENARIO.json [EXCEPTIONS.tsv]
set -u
baton=$1 scenario=$2 exceptions=${3:-}
if [ ! -f "$scenario" ]; then
  if [ "${BATON_REQUIRE_CORPUS:-0}" = 1 ]; then
    echo "scenario $scenario is missing (corpus required)" >&2
    exit 1
  fi
  echo "NOT RUN: $scenario is absent (no corpus here)"
  exit 0
fi
if [ -n "$exceptions" ]; then
  exec "$baton" test --exceptions "$exceptions" "$scenario"
fi
exec "$baton" test "$scenario"
