# Sourced by the run_*.sh scripts: `pinned_venv VENV REQUIREMENTS` creates the venv on first use
# and reinstalls whenever the pins change (the copy inside the venv is the stamp).
pinned_venv() {
  local venv="$1" requirements="$2"
  [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
  if ! cmp -s "$requirements" "$venv/$(basename "$requirements")"; then
    "$venv/bin/python" -m pip install -q -r "$requirements"
    cp "$requirements" "$venv/$(basename "$requirements")"
  fi
}
