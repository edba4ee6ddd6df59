#!/usr/bin/env bash
# int8 variants of both served encoders, built from their cached f32 graphs by the catalogue's
# recipe (models/build/quantize_int8.py), through the accuracy gate (int8_heads.py). Needs
# `eiq models fetch tweet-minilm-l6-v1-onnx minilm-l6-v2-onnx minilm-l6-v2-int8` first;
# EIQ_CACHE_DIR names the model cache (default ~/.cache/eiq/models). The served text variant's
# recalibrated heads land in $EIQ_INT8_HEADS_OUT (default: a temporary folder) as served.heads.json,
# the file committed as models/bundled/tweet-minilm-l6-v1/heads-int8.json.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/pinned_venv.sh"
pinned_venv "$here/../.venv" "$here/requirements.txt"
python="$here/../.venv/bin/python"
quantize="$here/../../models/build/quantize_int8.py"
cache="${EIQ_CACHE_DIR:-$HOME/.cache/eiq/models}"
model_dir() { dirname "$(ls "$cache/$1"/*/"$2" | head -n 1)"; }
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
heads_out="${EIQ_INT8_HEADS_OUT:-$out/heads}"
tokenizer="$(model_dir minilm-l6-v2 tokenizer.json)/tokenizer.json"
cd "$here"

# The text model: every MatMul, or all but the feed-forward down-projections (the served variant,
# as the catalogue's `args` say), with 8-bit (--full-range) or 7-bit weights.
ffn_down=(encoder.layer.{0..5}.output.dense)
text_f32="$(model_dir tweet-minilm-l6-v1-onnx model.onnx)"
"$python" "$quantize" --weights-dir "$text_f32" --out "$out/all-full-range.onnx" --full-range
"$python" "$quantize" --weights-dir "$text_f32" --out "$out/ffn-down-f32-full-range.onnx" --full-range \
  --keep-f32 "${ffn_down[@]}"
"$python" "$quantize" --weights-dir "$text_f32" --out "$out/all.onnx"
"$python" "$quantize" --weights-dir "$text_f32" --out "$out/served.onnx" --keep-f32 "${ffn_down[@]}"
heads="$(model_dir tweet-minilm-l6-v1 heads.json)"
"$python" int8_heads.py --f32 "$text_f32/model.onnx" --tokenizer "$tokenizer" \
  --int8 "$out"/{all-full-range,ffn-down-f32-full-range,all,served}.onnx \
  --heads "$heads/heads.json" --report "$here/../../models/bundled/tweet-minilm-l6-v1/training-report.json" \
  --heads-out "$heads_out"

# The plain sentence encoder (cosine only): the text model's variant, the catalogue's
# (minilm-l6-v2-onnx-int8: the last layer f32 too), and the downloaded int8 export.
base_f32="$(model_dir minilm-l6-v2-onnx model.onnx)"
"$python" "$quantize" --weights-dir "$base_f32" --out "$out/base-ffn-down-f32.onnx" --keep-f32 "${ffn_down[@]}"
"$python" "$quantize" --weights-dir "$base_f32" --out "$out/base-served.onnx" \
  --keep-f32 "${ffn_down[@]:0:5}" encoder.layer.5.
"$python" int8_heads.py --f32 "$base_f32/model.onnx" --tokenizer "$tokenizer" \
  --int8 "$out"/base-{ffn-down-f32,served}.onnx "$(model_dir minilm-l6-v2-int8 model.onnx)/model.onnx"
