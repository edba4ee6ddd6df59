#!/usr/bin/env bash
# int8 variants of the served text model, built from its cached f32 graph, through the accuracy
# gate (int8_heads.py). Needs `eiq models fetch tweet-minilm-l6-v1-onnx` first; EIQ_CACHE_DIR
# names the model cache (default ~/.cache/eiq/models).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/pinned_venv.sh"
pinned_venv "$here/../.venv" "$here/requirements.txt"
python="$here/../.venv/bin/python"
cache="${EIQ_CACHE_DIR:-$HOME/.cache/eiq/models}"
f32_dir="$(dirname "$(ls "$cache"/tweet-minilm-l6-v1-onnx/*/model.onnx | head -n 1)")"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
ffn_down=(encoder.layer.{0..5}.output.dense)
declare -A variants=(
  [all]=""
  [keep-ffn-down]="${ffn_down[*]}"
  [keep-ffn-down-last-layer]="${ffn_down[*]:0:5} encoder.layer.5."
  [keep-ffn-down-first-last]="${ffn_down[*]:0:5} encoder.layer.0. encoder.layer.5."
  [attention-only]="${ffn_down[*]:0:5} encoder.layer.5. .intermediate.dense"
)
graphs=()
for name in all keep-ffn-down keep-ffn-down-last-layer keep-ffn-down-first-last attention-only; do
  # shellcheck disable=SC2086 # the parts are words
  "$python" "$here/quantize_int8.py" --weights-dir "$f32_dir" --out "$out/$name.onnx" --keep-f32 ${variants[$name]}
  graphs+=("$out/$name.onnx")
done
heads="$(ls "$cache"/tweet-minilm-l6-v1/*/heads.json | head -n 1)"
tokenizer="$(ls "$cache"/minilm-l6-v2/*/tokenizer.json | head -n 1)"
cd "$here"
"$python" int8_heads.py --f32 "$f32_dir/model.onnx" --int8 "${graphs[@]}" --tokenizer "$tokenizer" --heads "$heads"
