#!/usr/bin/env bash
# venv.sh: the Python virtual environment with the reference implementations
# klabel is checked against (fastText 0.9.2, jieba 0.42.1, numpy) - for
# parity tests and benchmarks only, never used by the product at run time.
# Creates <repo>/.cache/venv once (a stamp holds this file's hash) and prints
# its python path. Usage: PY=$(bash tests/ref/venv.sh)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VENV="${KL_VENV:-$REPO/.cache/venv}"
REQ="$HERE/requirements.txt"
STAMP="$VENV/.klabel-stamp"
sum=$(cat "$0" "$REQ" | sha256sum | cut -d' ' -f1)
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$sum" ]]; then
    echo "$VENV/bin/python"; exit 0
fi
exec 9>"$VENV.lock" 2>/dev/null || { mkdir -p "$(dirname "$VENV")"; exec 9>"$VENV.lock"; }
flock 9
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$sum" ]]; then echo "$VENV/bin/python"; exit 0; fi
echo "venv.sh: creating $VENV" >&2
python3 -m venv "$VENV" >&2
"$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQ" >&2
echo "$sum" > "$STAMP"
echo "$VENV/bin/python"
