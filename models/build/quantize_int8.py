#!/usr/bin/env python3
"""Quantise an f32 MiniLM ONNX graph (models/build/minilm_onnx_f32.py's output) to int8.

The recipe of the catalogue's built int8 models (`tweet-minilm-l6-v1-int8`,
`minilm-l6-v2-onnx-int8`), and of the variants the accuracy gate measures
(benches/python/run_int8_gate.sh; benches/README.md, "int8 text model").

ONNX Runtime's dynamic quantisation: every MatMul's weights become per-channel (per output
column) symmetric int8, activations are quantised per batch at run time (u8), and the products
run as MatMulInteger, which ONNX Runtime executes with VNNI on CPUs that have it. Nothing is
calibrated, so nothing reads data: the output depends only on the input graph and the pinned
requirements, and is byte-for-byte reproducible.

`--keep-f32 PART ...` keeps in f32 every MatMul whose weight's name contains one of the parts
(`encoder.layer.5.`, `output.dense`), through ONNX Runtime's `nodes_to_exclude`: the layers whose
quantisation costs accuracy, such as the feed-forward down-projections
(`encoder.layer.N.output.dense`, whose inputs are GELU outputs with long tails). Each catalogue
manifest names its own parts in `args`; without `--keep-f32` every MatMul is quantised.

Weights use 7 bits (`reduce_range`) unless `--full-range`: on x86 CPUs without VNNI, ONNX
Runtime's u8 × s8 kernel adds pairs of products in 16 bits (VPMADDUBSW), which saturates with full
8-bit weights, so the same graph would give different, worse answers on those CPUs than on CPUs
with VNNI. With 7-bit weights a pair's sum always fits, and every x86 CPU computes the same thing.

Usage: python quantize_int8.py --weights-dir DIR --out FILE [--keep-f32 PART ...]
(DIR holds model.onnx.)
"""

import argparse
import hashlib
import logging
from pathlib import Path

import onnx
from onnxruntime.quantization import QuantType, quantize_dynamic


def matmuls_to_keep(model_path, parts):
    """Names of the MatMul nodes whose weight (second input) names contain one of `parts`."""
    graph = onnx.load(model_path, load_external_data=False).graph
    return [n.name for n in graph.node if n.op_type == "MatMul" and any(p in n.input[1] for p in parts)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights-dir", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--keep-f32", nargs="*", default=[])
    parser.add_argument("--full-range", action="store_true", help="8-bit weights instead of 7 (see above)")
    args = parser.parse_args()
    # Its advice to pre-process applies to static quantisation of convolutional models.
    logging.getLogger().setLevel(logging.ERROR)
    source = args.weights_dir / "model.onnx"
    keep = matmuls_to_keep(source, args.keep_f32)
    quantize_dynamic(
        source,
        args.out,
        per_channel=True,
        weight_type=QuantType.QInt8,
        op_types_to_quantize=["MatMul"],
        nodes_to_exclude=keep,
        reduce_range=not args.full_range,
    )
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes, {len(keep)} MatMuls kept in f32, sha256 {digest})")


if __name__ == "__main__":
    main()
