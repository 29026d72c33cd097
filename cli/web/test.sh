#!/usr/bin/env bash
# The web console's checks: the committed bundle (dist/) is exactly what the sources build,
# then browser tests in Debian's Chromium (driven by playwright-core) against the real daemon.
# SCREENSHOT_DIR=DIR keeps the screenshots the tests take (`make screenshots`).
set -euo pipefail
cd "$(dirname "$0")"
root="$(cd ../.. && pwd)"

npm ci --no-audit --no-fund --loglevel=error
npm run --silent build
if ! git diff --quiet -- dist || [ -n "$(git status --porcelain -- dist)" ]; then
  git status --short -- dist
  echo "cli/web/dist is not what cli/web/src builds: run 'make web' and commit cli/web/dist" >&2
  exit 1
fi

chromium="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
  echo "Chromium not found at $chromium: apt-get install -y chromium (or set CHROMIUM)" >&2
  exit 1
fi

(cd "$root" && cargo build -q -p vm-system-cli)
export VM_SYSTEM_BIN="${CARGO_TARGET_DIR:-$root/target}/debug/vm-system"
export CHROMIUM="$chromium"
node --test --test-reporter=spec --test-timeout=120000 test/sse.test.mjs test/console.test.mjs
