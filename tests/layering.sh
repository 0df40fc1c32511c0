#!/bin/sh
# Layers include only downward (docs/architecture.md): for each folder, the
# project headers its files may include. A wrong include fails this test
# before it can become a link-order problem.
set -u
root=${1:-.}
cd "$root" || exit 1
status=0
check() { # folder, allowed folders...
  dir=$1; shift
  allowed="$*"
  for f in $(find "$dir" -name '*.[ch]' 2>/dev/null); do
    grep -o '#include "[a-z_]*/' "$f" | sed 's/#include "//; s/\///' | sort -u | while read -r inc; do
      case " $allowed " in
        *" $inc "*) ;;
        *) echo "$f: includes $inc/, which is not below $dir/"; echo x >> "$tmp" ;;
      esac
    done
  done
}
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
check common      common
check expr        common expr
check models      common expr models
check parser      common expr models parser
check interpreter common expr models interpreter
check persistence common expr models interpreter persistence
check runtime     common expr models interpreter persistence parser runtime
check api         common expr models interpreter persistence parser runtime api
if [ -s "$tmp" ]; then
  exit 1
fi
echo "layering ok"
