#!/bin/sh
# Set up and run Baton on a fresh Debian 12 machine: install what is missing,
# build a release, then run Baton's main job on the examples.
set -eu
cd "$(dirname "$0")"
./scripts/deps.sh
if [ -d _build/release ]; then meson setup --reconfigure _build/release -Dbuildtype=release >/dev/null
else meson setup _build/release -Dbuildtype=release >/dev/null; fi
ninja -C _build/release
BATON=_build/release/cli/baton
echo "== baton validate examples/*.bpmn"
$BATON validate examples/*.bpmn
