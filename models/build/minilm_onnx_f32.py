#!/usr/bin/env python3
"""Build an f32 ONNX graph of all-MiniLM-L6-v2 directly from the upstream safetensors.

The ONNX export we otherwise serve through ONNX Runtime is int8-quantised and agrees
with the f32 weights only to cosine ~0.996, so comparing it with the candle backend
(which runs the f32 safetensors) mixes runtime differences with quantisation error.
This script writes the same encoder in f32 with the int8 export's interface, so the
two backends can be compared like for like:

    inputs  input_ids, attention_mask, token_type_ids: int64 [batch, sequence]
    output  last_hidden_state: float [batch, sequence, hidden]   (no pooling; the server pools)

The graph follows HF BertModel and is written node by node with onnx.helper (opset 17):
word + token_type + position embeddings (positions 0..sequence-1) and LayerNorm; then per
layer MatMul+Add projections, heads split with Reshape/Transpose, Q·Kᵀ/√head_dim plus the
additive mask (1 - attention_mask) * finfo(float32).min, Softmax, output projection,
residual and LayerNorm, and a feed-forward block with exact (Erf) GELU. Linear weights are
stored transposed ([in, out]) as MatMul's right operand; `embeddings.position_ids` and
`pooler.*` are not used.

Nothing is downloaded, and the output is byte-for-byte reproducible: no timestamps or
paths go into the model, and protobuf serialisation is deterministic.

Usage: python minilm_onnx_f32.py --weights-dir DIR --out FILE [--overlay FILE]
(DIR holds model.safetensors and config.json. --overlay names a safetensors file whose tensors,
any float type, replace their namesakes: a fine-tune stored as the layers it changed.)
"""

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load_file

OPSET, IR_VERSION = 17, 10  # as in the int8 export
PRODUCER = "elevatediq models/build/minilm_onnx_f32.py"
INPUTS, OUTPUT = ("input_ids", "attention_mask", "token_type_ids"), "last_hidden_state"
UNUSED = ("embeddings.position_ids", "pooler.")


class Graph:
    """Accumulates nodes and initializers; every op returns the name of its single output."""

    def __init__(self, weights):
        self.weights, self.used, self.nodes, self.inits = weights, set(), [], {}

    def const(self, name, value, dtype=np.float32):
        if name not in self.inits:
            self.inits[name] = numpy_helper.from_array(np.ascontiguousarray(value, dtype=dtype), name)
        return name

    def weight(self, name, transpose=False):
        self.used.add(name)
        w = self.weights[name]
        return self.const(name + ".T", w.T) if transpose else self.const(name, w)

    def op(self, op_type, *inputs, out=None, **attrs):
        out = out or f"{op_type}_{len(self.nodes)}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=out, **attrs))
        return out

    def linear(self, x, prefix):
        return self.op("Add", self.op("MatMul", x, self.weight(prefix + ".weight", transpose=True)),
                       self.weight(prefix + ".bias"))

    def layer_norm(self, x, prefix, eps, out=None):
        return self.op("LayerNormalization", x, self.weight(prefix + ".weight"), self.weight(prefix + ".bias"),
                       axis=-1, epsilon=eps, out=out)


def attention(g, x, prefix, mask_bias, heads, hidden):
    split = g.const("split_heads", [0, 0, heads, hidden // heads], np.int64)

    def project(name, perm):  # [batch, sequence, hidden] -> heads, permuted
        return g.op("Transpose", g.op("Reshape", g.linear(x, prefix + "self." + name), split), perm=perm)

    q, k, v = project("query", [0, 2, 1, 3]), project("key", [0, 2, 3, 1]), project("value", [0, 2, 1, 3])
    scores = g.op("Div", g.op("MatMul", q, k), g.const("sqrt_head_dim", np.sqrt(hidden // heads)))
    probs = g.op("Softmax", g.op("Add", scores, mask_bias), axis=-1)
    ctx = g.op("Transpose", g.op("MatMul", probs, v), perm=[0, 2, 1, 3])
    return g.linear(g.op("Reshape", ctx, g.const("merge_heads", [0, 0, hidden], np.int64)), prefix + "output.dense")


def gelu(g, x):  # x * 0.5 * (1 + erf(x / sqrt(2)))
    erf = g.op("Erf", g.op("Div", x, g.const("sqrt_2", np.sqrt(2.0))))
    return g.op("Mul", g.op("Mul", x, g.const("half", 0.5)), g.op("Add", g.const("one", 1.0), erf))


def load_weights(weights_file, overlay_file):
    weights = load_file(str(weights_file))
    if overlay_file is not None:
        for name, tensor in load_file(str(overlay_file)).items():
            assert name in weights, f"overlay tensor {name} is not a tensor of the base model"
            assert tensor.shape == weights[name].shape, f"overlay tensor {name} has shape {tensor.shape}"
            weights[name] = tensor.astype(np.float32)
    return weights


def build(weights_dir, overlay_file=None):
    cfg = json.loads((weights_dir / "config.json").read_text())
    assert cfg["hidden_act"] == "gelu" and cfg["position_embedding_type"] == "absolute", cfg
    hidden, heads, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"]
    weights_file = weights_dir / "model.safetensors"
    g = Graph(load_weights(weights_file, overlay_file))
    ids, mask, type_ids = INPUTS

    zero = g.const("zero", [0], np.int64)
    positions = g.op("Slice", g.weight("embeddings.position_embeddings.weight"), zero,
                     g.op("Shape", ids, start=1, end=2), zero)  # rows 0..sequence-1
    x = g.op("Add", g.op("Gather", g.weight("embeddings.word_embeddings.weight"), ids),
             g.op("Gather", g.weight("embeddings.token_type_embeddings.weight"), type_ids))
    x = g.layer_norm(g.op("Add", x, positions), "embeddings.LayerNorm", eps)

    keep = g.op("Cast", mask, to=TensorProto.FLOAT)
    mask_bias = g.op("Mul", g.op("Sub", g.const("one", 1.0), keep),
                     g.const("float32_min", np.finfo(np.float32).min))
    mask_bias = g.op("Unsqueeze", mask_bias, g.const("axes_1_2", [1, 2], np.int64))  # [batch, 1, 1, sequence]

    layers = cfg["num_hidden_layers"]
    for i in range(layers):
        p = f"encoder.layer.{i}."
        x = g.layer_norm(g.op("Add", attention(g, x, p + "attention.", mask_bias, heads, hidden), x),
                         p + "attention.output.LayerNorm", eps)
        ffn = g.linear(gelu(g, g.linear(x, p + "intermediate.dense")), p + "output.dense")
        x = g.layer_norm(g.op("Add", ffn, x), p + "output.LayerNorm", eps, out=OUTPUT if i == layers - 1 else None)

    unused = {n for n in g.weights if n not in g.used and not n.startswith(UNUSED)}
    assert not unused, f"weights not used by the graph: {sorted(unused)}"

    graph = helper.make_graph(
        g.nodes, "minilm_l6_v2_f32",
        [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"]) for n in INPUTS],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch", "sequence", hidden])],
        initializer=list(g.inits.values()),
        # Shape inference cannot see that the Slice yields `sequence` rows; without this the residual
        # stream's shape is unknown and ONNX Runtime skips its SkipLayerNormalization fusion.
        value_info=[helper.make_tensor_value_info(positions, TensorProto.FLOAT, ["sequence", hidden])])
    model = helper.make_model(graph, producer_name=PRODUCER, ir_version=IR_VERSION,
                              opset_imports=[helper.make_opsetid("", OPSET)])
    props = {"source.model.safetensors.sha256": hashlib.sha256(weights_file.read_bytes()).hexdigest()}
    if overlay_file is not None:
        props["source.overlay.sha256"] = hashlib.sha256(overlay_file.read_bytes()).hexdigest()
    helper.set_model_props(model, props)
    onnx.checker.check_model(model, full_check=True)
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights-dir", type=Path, required=True, help="holds model.safetensors and config.json")
    ap.add_argument("--out", type=Path, required=True, help="ONNX file to write")
    ap.add_argument("--overlay", type=Path, help="safetensors whose tensors replace the base model's")
    args = ap.parse_args()

    data = build(args.weights_dir, args.overlay).SerializeToString(deterministic=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    print(f"wrote {args.out}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}")


if __name__ == "__main__":
    main()
