#!/usr/bin/env bash
# pandas baseline for the Rust/Polars feature pipeline (features/): creates
# benches/.venv-pandas (pinned, from requirements-pandas.txt) on first use,
# then runs features_pandas.py with any arguments given here, e.g.
#   run_features_pandas.sh posts.parquet out.parquet --compare rust.parquet --repeats 3
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/pinned_venv.sh"
pinned_venv "$here/../.venv-pandas" "$here/requirements-pandas.txt"
exec "$here/../.venv-pandas/bin/python" "$here/features_pandas.py" "$@"
