#!/usr/bin/env python3
"""This machine's matrix-multiply peak through ONNX Runtime: int8 `MatMulInteger` against f32 `MatMul`.

The encoder's throughput only means something next to what the hardware can do. This builds two
one-node graphs with the shapes of MiniLM's feed-forward block (tokens × 384 times 384 × 1536,
the largest matrix product of each layer), runs each on the CPU provider with the given threads,
and prints the best of several timed runs in GOP/s (one multiply-add counts as two operations).
`MatMulInteger` takes u8 activations and s8 weights, as dynamic quantisation emits them, so ONNX
Runtime uses its VNNI kernel where the CPU has one.

Usage: ../.venv/bin/python gemm_peak.py [--tokens 4096] [--threads 2] [--repeats 20]
(run_int8_gate.sh's venv has the pinned onnxruntime.)
"""

import argparse
import os
import time

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper

HIDDEN, INTERMEDIATE = 384, 1536


def graph(integer):
    """One MatMul (f32) or MatMulInteger (u8 × s8 → i32) with a constant right operand."""
    rng = np.random.default_rng(0)
    if integer:
        weights = rng.integers(-127, 128, (HIDDEN, INTERMEDIATE), dtype=np.int8)
        node = helper.make_node("MatMulInteger", ["x", "w"], ["y"])
        x_type, y_type, w_type = TensorProto.UINT8, TensorProto.INT32, TensorProto.INT8
    else:
        weights = rng.standard_normal((HIDDEN, INTERMEDIATE), dtype=np.float32)
        node = helper.make_node("MatMul", ["x", "w"], ["y"])
        x_type, y_type, w_type = TensorProto.FLOAT, TensorProto.FLOAT, TensorProto.FLOAT
    initializer = helper.make_tensor("w", w_type, weights.shape, weights.tobytes(), raw=True)
    body = helper.make_graph(
        [node], "gemm",
        [helper.make_tensor_value_info("x", x_type, ["tokens", HIDDEN])],
        [helper.make_tensor_value_info("y", y_type, ["tokens", INTERMEDIATE])],
        [initializer],
    )
    return helper.make_model(body, opset_imports=[helper.make_opsetid("", 17)], ir_version=10)


def peak(integer, tokens, threads, repeats):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(graph(integer).SerializeToString(), options, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1)
    x = (rng.integers(0, 256, (tokens, HIDDEN), dtype=np.uint8) if integer
         else rng.standard_normal((tokens, HIDDEN), dtype=np.float32))
    session.run(None, {"x": x})  # warm-up: packing, thread pool
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        session.run(None, {"x": x})
        best = min(best, time.perf_counter() - started)
    return 2 * tokens * HIDDEN * INTERMEDIATE / best / 1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    f32 = peak(False, args.tokens, args.threads, args.repeats)
    int8 = peak(True, args.tokens, args.threads, args.repeats)
    print(f"onnxruntime {ort.__version__}, {args.threads} threads, {args.tokens} x {HIDDEN} x {INTERMEDIATE}")
    print(f"f32 MatMul:           {f32:7.1f} GFLOP/s")
    print(f"int8 MatMulInteger:   {int8:7.1f} GOP/s  ({int8 / f32:.2f}x f32)")


if __name__ == "__main__":
    main()
