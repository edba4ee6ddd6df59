#!/usr/bin/env bash
# Python onnxruntime baseline for the Rust embedding benches: creates
# benches/.venv (pinned, from requirements.txt) on first use, then runs
# ort_throughput.py with any arguments given here.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/../.venv"
[[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
# Reinstall whenever the pins change; the copy inside the venv is the stamp.
if ! cmp -s "$here/requirements.txt" "$venv/requirements.txt"; then
  "$venv/bin/python" -m pip install -q -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$venv/requirements.txt"
fi
exec "$venv/bin/python" "$here/ort_throughput.py" "$@"
