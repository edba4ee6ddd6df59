#!/usr/bin/env bash
# pandas baseline for the Rust/Polars feature pipeline (features/): creates
# benches/.venv-pandas (pinned, from requirements-pandas.txt) on first use,
# then runs features_pandas.py with any arguments given here, e.g.
#   run_features_pandas.sh posts.parquet out.parquet --compare rust.parquet --repeats 3
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/../.venv-pandas"
[[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
# Reinstall whenever the pins change; the copy inside the venv is the stamp.
if ! cmp -s "$here/requirements-pandas.txt" "$venv/requirements-pandas.txt"; then
  "$venv/bin/python" -m pip install -q -r "$here/requirements-pandas.txt"
  cp "$here/requirements-pandas.txt" "$venv/requirements-pandas.txt"
fi
exec "$venv/bin/python" "$here/features_pandas.py" "$@"
