#!/usr/bin/env python3
"""Python onnxruntime baseline for the Rust embedding service's benchmarks.

Measures end-to-end embeddings per second of the int8 all-MiniLM-L6-v2 ONNX
model the way a server does it: tokenize (pad to longest in the batch,
truncate at 256), session.run, attention-mask weighted mean pooling, L2
normalisation. The Rust numbers are only meaningful next to this one.
Run through run_ort_bench.sh, which sets up the pinned venv, on an otherwise
idle machine: a concurrent build or benchmark halves these numbers.
"""

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

MAX_TOKENS = 256
DEFAULT_TEXTS = Path(__file__).resolve().parents[2] / "datasets/tweeteval/sentiment/val_text.txt"


def load_tokenizer(path):
    tok = Tokenizer.from_file(str(path))
    tok.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest in each batch, not the file's fixed 128
    tok.enable_truncation(MAX_TOKENS)
    return tok


def make_session(model_path, threads=None):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads or os.cpu_count()
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(str(model_path), so, providers=["CPUExecutionProvider"])


def embed(session, tok, texts):
    """Texts -> (len(texts), 384) float32 unit vectors."""
    encs = tok.encode_batch(texts)
    feeds = {
        "input_ids": np.array([e.ids for e in encs], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in encs], dtype=np.int64),
        "token_type_ids": np.array([e.type_ids for e in encs], dtype=np.int64),
    }
    wanted = {i.name for i in session.get_inputs()}
    hidden = session.run(None, {k: v for k, v in feeds.items() if k in wanted})[0]
    mask = feeds["attention_mask"][..., None].astype(np.float32)
    pooled = (hidden * mask).sum(1) / np.maximum(mask.sum(1), 1e-9)
    return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


def one_pass(session, tok, texts, batch_size):
    start = time.perf_counter()
    for i in range(0, len(texts), batch_size):
        embed(session, tok, texts[i:i + batch_size])
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-onnx", required=True)
    ap.add_argument("--tokenizer", required=True, help="tokenizer.json")
    ap.add_argument("--texts", default=str(DEFAULT_TEXTS), help="one text per line")
    ap.add_argument("-n", "--num-texts", type=int, default=1024)
    ap.add_argument("--batch-sizes", default="1,8,32,128")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", action="store_true", help="also print one machine-readable JSON line")
    args = ap.parse_args()

    texts = Path(args.texts).read_text(encoding="utf-8").splitlines()[:args.num_texts]
    tok = load_tokenizer(args.tokenizer)
    session = make_session(args.model_onnx)
    threads = os.cpu_count()

    results = []
    print(f"onnxruntime {ort.__version__}, {len(texts)} texts, intra_op_threads={threads}, median of {args.repeats}")
    print(f"{'batch':>6} {'embeddings/s':>13} {'ms/batch':>10}")
    for bs in (int(b) for b in args.batch_sizes.split(",")):
        one_pass(session, tok, texts, bs)  # warm-up
        secs = statistics.median(one_pass(session, tok, texts, bs) for _ in range(args.repeats))
        batches = -(-len(texts) // bs)
        r = {"batch_size": bs, "embeddings_per_s": round(len(texts) / secs, 1),
             "ms_per_batch": round(1000 * secs / batches, 3)}
        results.append(r)
        print(f"{bs:>6} {r['embeddings_per_s']:>13.1f} {r['ms_per_batch']:>10.3f}", flush=True)

    if args.json:
        print(json.dumps({"backend": "python-onnxruntime", "onnxruntime": ort.__version__,
                          "model": Path(args.model_onnx).name, "num_texts": len(texts),
                          "intra_op_threads": threads, "repeats": args.repeats, "results": results}))


if __name__ == "__main__":
    main()
