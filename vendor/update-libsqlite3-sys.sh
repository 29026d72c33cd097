#!/usr/bin/env bash
# Re-creates vendor/libsqlite3-sys from a crates.io release of libsqlite3-sys and applies
# vendor/libsqlite3-sys.patch (progress checks after large-value SQL functions and
# concatenations; see vendor/README.md). Run it when upgrading rusqlite:
#   bash vendor/update-libsqlite3-sys.sh 0.40.0
set -euo pipefail
version=${1:-0.40.0}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pristine=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"libsqlite3-sys-$version" 2>/dev/null | head -1 || true)
if [ -z "$pristine" ]; then
  curl -fsSL "https://static.crates.io/crates/libsqlite3-sys/libsqlite3-sys-$version.crate" | tar -xz -C "$work"
  pristine="$work/libsqlite3-sys-$version"
fi
out="$here/libsqlite3-sys"
rm -rf "$out"
mkdir -p "$out/sqlite3"
cp "$pristine"/{Cargo.toml,build.rs,LICENSE,README.md,wrapper.h,wrapper_ext.h} "$out/"
cp -r "$pristine/src" "$pristine/bindgen-bindings" "$out/"
# wasm32-wasi-vfs.c is not compiled here, but build.rs names it in `rerun-if-changed`: were
# it missing, cargo would rebuild SQLite (and everything above it) on every invocation.
cp "$pristine"/sqlite3/{sqlite3.c,sqlite3.h,sqlite3ext.h,bindgen_bundled_version.rs,bindgen_bundled_version_ext.rs,wasm32-wasi-vfs.c} "$out/sqlite3/"
(cd "$out" && patch -p1 --no-backup-if-mismatch < "$here/libsqlite3-sys.patch")
rm -rf "$work"
echo "vendor/libsqlite3-sys is libsqlite3-sys $version with vendor/libsqlite3-sys.patch applied"
