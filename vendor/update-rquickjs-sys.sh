#!/usr/bin/env bash
# Re-creates vendor/rquickjs-sys from a crates.io release of rquickjs-sys and applies
# vendor/rquickjs-sys.patch (interrupt polls in QuickJS-NG's generic array loops, sorts
# and long string/JSON/from loops, and JS_DiscardPendingJobs; see vendor/README.md). Run it when upgrading rquickjs:
#   bash vendor/update-rquickjs-sys.sh 0.14.0
# If the patch no longer applies, port each hunk by hand (they are small) and regenerate
# the patch with `diff -ru` against the pristine copy the script leaves in $TMPDIR.
set -euo pipefail
version=${1:-0.14.0}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pristine=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"rquickjs-sys-$version" 2>/dev/null | head -1 || true)
if [ -z "$pristine" ]; then
  curl -fsSL "https://static.crates.io/crates/rquickjs-sys/rquickjs-sys-$version.crate" | tar -xz -C "$work"
  pristine="$work/rquickjs-sys-$version"
fi
out="$here/rquickjs-sys"
rm -rf "$out"
mkdir -p "$out/quickjs" "$out/src/bindings"
cp "$pristine"/{Cargo.toml,build.rs,README.md,quickjs.bind.h} "$out/"
cp -r "$pristine/src/inlines" "$pristine/src/lib.rs" "$out/src/"
# Only the Linux targets this project builds for.
for target in x86_64-unknown-linux-gnu x86_64-unknown-linux-musl aarch64-unknown-linux-gnu aarch64-unknown-linux-musl; do
  cp "$pristine/src/bindings/$target.rs" "$out/src/bindings/"
done
# What build.rs compiles, and the licence.
for f in LICENSE quickjs.c libregexp.c libunicode.c dtoa.c builtin-array-fromasync.h \
  builtin-iterator-zip-keyed.h builtin-iterator-zip.h cutils.h dtoa.h libregexp-opcode.h \
  libregexp.h libunicode-table.h libunicode.h list.h quickjs-atom.h quickjs-opcode.h \
  quickjs-c-atomics.h quickjs.h; do
  cp "$pristine/quickjs/$f" "$out/quickjs/"
done
(cd "$out" && patch -p1 --no-backup-if-mismatch < "$here/rquickjs-sys.patch")
rm -rf "$work"
echo "vendor/rquickjs-sys is rquickjs-sys $version with vendor/rquickjs-sys.patch applied"
