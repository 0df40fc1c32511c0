#!/bin/sh
# run.sh - the expression benchmark beside feelin, in one run, as a table.
#   bench/expr/run.sh BUILD_DIR [SECONDS]
# Needs a release build (meson setup BUILD_DIR -Dbuildtype=release) and
# `npm ci --prefix bench/expr` for feelin.
set -eu
build=${1:?usage: bench/expr/run.sh BUILD_DIR [SECONDS]}
secs=${2:-2}
here=$(cd "$(dirname "$0")" && pwd)
ninja -C "$build" bench/expr/bench-expr >/dev/null
[ -d "$here/node_modules/feelin" ] || npm ci --prefix "$here" --no-audit --no-fund --loglevel=error
"$build/bench/expr/bench-expr" "$secs" > "$build/bench-expr.jsonl"
node "$here/feelin_bench.mjs" "$secs" > "$build/bench-feelin.jsonl"
node -e '
const fs = require("fs");
const read = (f) => fs.readFileSync(f, "utf8").trim().split("\n").map((l) => JSON.parse(l));
const b = read(process.argv[1]), f = new Map(read(process.argv[2]).map((r) => [r.case, r]));
const fmt = (n) => n.toLocaleString("en-US");
console.log("| case | expression | Baton evals/s | allocs/eval | feelin evals/s | ratio |");
console.log("| --- | --- | ---: | ---: | ---: | ---: |");
for (const r of b) {
  const o = f.get(r.case);
  console.log(`| ${r.case} | \`${r.expr}\` | ${fmt(r.evals_per_s)} | ${r.allocs_per_eval} | ${fmt(o.evals_per_s)} | ${(r.evals_per_s / o.evals_per_s).toFixed(0)}x |`);
}' "$build/bench-expr.jsonl" "$build/bench-feelin.jsonl"
