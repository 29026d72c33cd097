#!/bin/sh
# Builds the engine's own test262 runner, run-test262, from the QuickJS-NG source that
# rquickjs-sys bundles (the engine vm-system runs), and copies its test262.conf beside it.
#
#   tests/test262/build-baseline.sh OUT_DIR
#
# The source is the one in Cargo's registry (run `cargo fetch` first); nothing is
# downloaded and nothing is written into the repository.
set -eu
out=${1:?usage: build-baseline.sh OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$(dirname "$here")")
version=$(sed -n '/^name = "rquickjs-sys"/{n;s/^version = "\(.*\)"/\1/p;}' "$root/Cargo.lock" | head -1)
registry=${CARGO_HOME:-$HOME/.cargo}/registry/src
src=$(ls -d "$registry"/*/rquickjs-sys-"$version"/quickjs 2>/dev/null | head -1)
if [ -z "$src" ]; then
    echo "rquickjs-sys $version is not in $registry: run 'cargo fetch' first" >&2
    exit 1
fi
mkdir -p "$out"
echo "building run-test262 from $src"
${CC:-cc} -O2 -D_GNU_SOURCE -I"$src" -o "$out/run-test262" \
    "$src/run-test262.c" "$src/quickjs.c" "$src/libregexp.c" "$src/libunicode.c" \
    "$src/dtoa.c" "$src/quickjs-libc.c" -lm -lpthread -ldl
cp "$src/test262.conf" "$out/test262.conf"
echo "$out/run-test262 and $out/test262.conf ready"
