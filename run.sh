#!/bin/sh
# Set up and run Baton on a fresh Debian 12 machine: install what is missing,
# build a release, then run Baton's main job: `baton serve`, the HTTP API on
# the embedded SQLite store (baton.db here) with the diagrams in examples/
# deployed. It prints where it listens; Ctrl-C (or SIGTERM) stops it cleanly.
#   BATON_DB=postgresql://...  BATON_LISTEN=0.0.0.0:8080  ./run.sh
set -eu
cd "$(dirname "$0")"
./scripts/deps.sh
if [ -d _build/release ]; then meson setup --reconfigure _build/release -Dbuildtype=release >/dev/null
else meson setup _build/release -Dbuildtype=release >/dev/null; fi
ninja -C _build/release >/dev/null
BATON=_build/release/cli/baton
set --
for f in examples/*.bpmn; do set -- "$@" --deploy "$f"; done
cat <<'TRY'
== baton serve: try, from another terminal (docs/api.md has every route)
  curl -s localhost:8080/v1/definitions
  curl -s -H 'Content-Type: application/json' -d '{"variables":{"patient":{"name":"Ann"}}}' \
       localhost:8080/v1/definitions/patient-admission/instances
  curl -s localhost:8080/v1/instances/1
TRY
exec "$BATON" serve --db "${BATON_DB:-baton.db}" --listen "${BATON_LISTEN:-127.0.0.1:8080}" "$@"
