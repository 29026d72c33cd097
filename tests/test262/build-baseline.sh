#!/bin/sh
# Builds the engine's own test262 runner, run-test262, from the QuickJS-NG source that
# rquickjs-sys bundles, and copies its test262.conf beside it.
#
#   tests/test262/build-baseline.sh OUT_DIR
#
# The engine itself (quickjs.c, libregexp.c, libunicode.c, dtoa.c) comes from the patched
# copy vm-system builds (vendor/rquickjs-sys/quickjs), so the baseline is the very engine
# vm-system runs; run-test262.c, quickjs-libc.c and test262.conf, which rquickjs-sys ships
# but does not compile, come from the same rquickjs-sys release in Cargo's registry (run
# `cargo fetch` first). Nothing is downloaded and nothing is written into the repository.
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
engine=$root/vendor/rquickjs-sys/quickjs
[ -f "$engine/quickjs.c" ] || engine=$src
mkdir -p "$out"
echo "building run-test262 from $src with the engine in $engine"
${CC:-cc} -O2 -D_GNU_SOURCE -I"$engine" -I"$src" -o "$out/run-test262" \
    "$src/run-test262.c" "$src/quickjs-libc.c" "$engine/quickjs.c" "$engine/libregexp.c" \
    "$engine/libunicode.c" "$engine/dtoa.c" -lm -lpthread -ldl
cp "$src/test262.conf" "$out/test262.conf"
echo "$out/run-test262 and $out/test262.conf ready"
