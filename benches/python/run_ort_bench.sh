#!/usr/bin/env bash
# Python onnxruntime baseline for the Rust embedding benches: creates
# benches/.venv (pinned, from requirements.txt) on first use, then runs
# ort_throughput.py with any arguments given here.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/pinned_venv.sh"
pinned_venv "$here/../.venv" "$here/requirements.txt"
exec "$here/../.venv/bin/python" "$here/ort_throughput.py" "$@"
