#!/bin/sh
# The sources (not the benchmarks) follow .clang-format (LLVM base, 4 spaces,
# 100 columns). Lists
# every file clang-format would change and fails if there is one; fix with
#   clang-format -i FILE
set -u
root=${1:-.}
cd "$root" || exit 1
command -v clang-format >/dev/null || { echo "clang-format is not installed (scripts/deps.sh)"; exit 1; }
bad=0
for f in $(git ls-files '*.c' '*.h' 2>/dev/null || find common expr models parser interpreter persistence runtime api cli tests bench -name '*.[ch]'); do
  case "$f" in tests/fuzz/corpus/*|bench/*) continue ;; esac
  if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
    echo "not formatted: $f"
    bad=1
  fi
done
[ $bad = 0 ] && echo "format ok"
exit $bad
