#!/bin/sh
# clang-tidy over the library and CLI sources with the checks in .clang-tidy,
# every warning an error (suite `lint`). The set is clean on the sources, so a
# failure here is a finding: fix the code, or, when the analyzer is wrong and
# no small change can show it the invariant, add `// NOLINT(check): why`.
#   lint.sh SOURCE_ROOT BUILD_DIR
# BUILD_DIR holds the compile_commands.json that meson writes; only the files
# that build compiles are linted (no libpq, no postgres.c). Two clang-tidy
# processes at a time, as CI has two cores (BATON_LINT_JOBS=N to change it).
set -u
root=${1:?usage: lint.sh SOURCE_ROOT BUILD_DIR}
build=${2:?usage: lint.sh SOURCE_ROOT BUILD_DIR}
jobs=${BATON_LINT_JOBS:-2}
command -v clang-tidy >/dev/null || {
    echo "clang-tidy is not installed (scripts/deps.sh installs it)"
    exit 1
}
[ -f "$build/compile_commands.json" ] || {
    echo "no compile_commands.json in $build"
    exit 1
}
root=$(cd "$root" && pwd -P) || exit 1
build=$(cd "$build" && pwd -P) || exit 1

# "file" entries are relative to the build directory; keep the layers' sources.
files=$(cd "$build" && sed -n 's/^ *"file": "\(.*\)",\{0,1\}$/\1/p' compile_commands.json |
    while read -r f; do
        f=$(realpath -m -- "$f")
        case "$f" in
        "$root"/common/*.c | "$root"/expr/*.c | "$root"/models/*.c | "$root"/parser/*.c | \
            "$root"/interpreter/*.c | "$root"/persistence/*.c | "$root"/runtime/*.c | \
            "$root"/api/*.c | "$root"/cli/*.c)
            echo "${f#"$root"/}"
            ;;
        esac
    done | sort -u)
[ -n "$files" ] || {
    echo "no library or CLI sources in $build/compile_commands.json"
    exit 1
}

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
# One log per file, kept when clang-tidy fails (a warning, a compile error, a crash).
# -Wno-unknown-warning-option: a gcc build's flags may name warnings clang lacks.
echo "$files" | xargs -P "$jobs" -I{} sh -c '
    log="$1/$(echo "$2" | tr / _).log"
    clang-tidy -p "$3" --quiet --warnings-as-errors="*" \
        --extra-arg=-Wno-unknown-warning-option "$4/$2" >"$log" 2>&1 || mv "$log" "$log.failed"
' sh "$tmp" {} "$build" "$root"

n=$(echo "$files" | wc -l)
failed=$(find "$tmp" -name '*.failed' | sort)
if [ -n "$failed" ]; then
    for f in $failed; do
        grep -v '^[0-9]* warnings\{0,1\} generated\.$' "$f"
    done
    echo "lint: $(echo "$failed" | wc -l) of $n files have findings"
    exit 1
fi
echo "lint ok: $n files"
