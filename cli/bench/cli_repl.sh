#!/usr/bin/env bash
# One whole `vm-system exec repl <session> '1+1'` process (start, parse, POST wait:false,
# follow the event stream, print, exit) against a release daemon on a SQLite file.
# Prints the median, the 10th and 90th percentiles over RUNS runs (default 200) after a
# warm-up. Target: <= 15 ms median (the original Go CLI: 48 ms).
#
#   bash cli/bench/cli_repl.sh            # builds the release binary first
#   RUNS=500 bash cli/bench/cli_repl.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-200}
cargo build --release -q -p vm-system-cli
BIN=${CARGO_TARGET_DIR:-target}/release/vm-system
WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export VM_SYSTEM_SERVER_URL=http://127.0.0.1:$PORT
"$BIN" serve --listen 127.0.0.1:$PORT --db "$WORK/bench.db" --library-cache "$WORK/libs" 2>"$WORK/daemon.log" &
DAEMON=$!
trap 'kill $DAEMON 2>/dev/null; wait $DAEMON 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do "$BIN" ops health >/dev/null 2>&1 && break; sleep 0.05; done

T=$("$BIN" --output json template create --name bench | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
S=$("$BIN" --output json session create --template-id "$T" --workspace-id bench --base-commit HEAD --worktree-path "$WORK" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
for _ in $(seq 20); do "$BIN" exec repl "$S" '1+1' >/dev/null; done

: >"$WORK/times"
for _ in $(seq "$RUNS"); do
  t0=$EPOCHREALTIME
  "$BIN" exec repl "$S" '1+1' >/dev/null
  t1=$EPOCHREALTIME
  echo "$t0 $t1" >>"$WORK/times"
done
python3 - "$WORK/times" <<'PY'
import sys
ms = sorted((float(b) - float(a)) * 1000 for a, b in (l.split() for l in open(sys.argv[1])))
pick = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]
print(f"CLI exec repl '1+1' process: median {pick(0.5):.2f} ms  p10 {pick(0.1):.2f} ms  p90 {pick(0.9):.2f} ms  ({len(ms)} runs)")
PY
