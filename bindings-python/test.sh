#!/usr/bin/env bash
# Builds the release wheel and tests it installed in a fresh virtualenv.
#
#   bash bindings-python/test.sh
#
# Environment: PYTHON (interpreter, default python3), VENV (build venv, default
# bindings-python/.venv; the test venv is "$VENV-test"), CARGO_TARGET_DIR (default: the
# workspace target/). Needs network access for pip only (maturin, pytest).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-$HERE/.venv}"
TEST_VENV="$VENV-test"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
WHEELS="$CARGO_TARGET_DIR/wheels"

step() { printf '\n==> %s\n' "$*"; }

step "build environment in $VENV"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "maturin>=1.9.4,<2"

step "maturin build --release (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
rm -f "$WHEELS"/vm_system-*.whl
(cd "$HERE" && "$VENV/bin/maturin" build --release --out "$WHEELS")
WHEEL="$(ls "$WHEELS"/vm_system-*.whl)"
"$PYTHON" - "$WHEEL" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
for license in ("LICENSE-MIT", "LICENSE-APACHE"):
    if not any(n.endswith("/" + license) and ".dist-info/" in n for n in names):
        sys.exit(f"the wheel carries no {license}")
PY

step "install $(basename "$WHEEL") into a fresh $TEST_VENV"
rm -rf "$TEST_VENV"
"$PYTHON" -m venv "$TEST_VENV"
"$TEST_VENV/bin/python" -m pip install --quiet --disable-pip-version-check pytest "$WHEEL"

step "pytest"
# Run from the tests folder with the pytest script (not `python -m`), so that nothing but
# the installed wheel can be imported as vm_system.
(cd "$HERE" && "$TEST_VENV/bin/pytest" -q -p no:cacheprovider tests)

step "examples/python/quickstart.py"
(cd "$(mktemp -d)" && "$TEST_VENV/bin/python" "$ROOT/examples/python/quickstart.py")

step "bench smoke test"
"$TEST_VENV/bin/python" "$HERE/bench/bench.py" --quick

step "python binding: all tests passed"
