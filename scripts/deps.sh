#!/bin/sh
# Install what Baton needs to build and test on Debian 12, if missing.
# Safe to run repeatedly: it only calls apt-get when a package is absent.
set -eu

PACKAGES="
  gcc clang clang-format clang-tidy libclang-rt-14-dev llvm meson ninja-build pkg-config
  libxml2-dev libcjson-dev libsqlite3-dev libpq-dev libmicrohttpd-dev
  libcurl4-openssl-dev libintelrdfpmath-dev
  postgresql tzdata ca-certificates curl nodejs
"

missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done

if [ -n "$missing" ]; then
  echo "installing:$missing"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
