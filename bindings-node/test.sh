#!/usr/bin/env bash
# From a clean checkout: install the CLI, build the release addon, check that the generated
# files are committed as built, pack the package, install the tarball into a fresh project and
# run the tests and the examples against that installed package. Exits non-zero on failure.
# Honours CARGO_TARGET_DIR (default: the workspace target/).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$here"
echo "==> npm ci"
npm ci --no-audit --no-fund

echo "==> napi build --release (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
npx napi build --platform --release --js binding.js

echo "==> generated files unchanged"
if ! git diff --exit-code -- index.d.ts binding.js; then
  echo "index.d.ts or binding.js differ from the committed ones: commit the regenerated files" >&2
  exit 1
fi

echo "==> npm pack"
tarball="$(npm pack --silent --pack-destination "$work" | tail -n 1)"

echo "==> install $tarball into a fresh project"
project="$work/project"
mkdir -p "$project"
cd "$project"
npm init -y >/dev/null
npm install --no-audit --no-fund "$work/$tarball"
cp -R "$here/test" "$project/test"
cp "$root/examples/node/quickstart.js" "$root/examples/node/quickstart.mjs" "$project/"

echo "==> node --test (installed package)"
VM_SYSTEM_ROOT="$root" node --test "$project/test/"

echo "==> examples"
node "$project/quickstart.js"
node "$project/quickstart.mjs"

echo "==> bindings-node: all good"
