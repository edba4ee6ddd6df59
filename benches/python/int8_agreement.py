#!/usr/bin/env python3
"""How far the int8 ONNX model is from the float reference embeddings.

Reads reference JSON files written by inference/tests/reference/make_reference.py
and embeds the same texts with the int8 ONNX model through onnxruntime (same
tokenization, mean pooling, L2), one text per run and again as one padded
batch. Prints the cosine per text and min / mean, so the Rust int8 backend's
tolerance against the f32 goldens can be chosen from data.

Usage: ../.venv/bin/python int8_agreement.py --model-onnx M --tokenizer T REF.json [REF.json ...]
"""

import argparse
import json

import numpy as np

from ort_throughput import embed, load_tokenizer, make_session


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-onnx", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("references", nargs="+")
    args = ap.parse_args()
    session, tok = make_session(args.model_onnx), load_tokenizer(args.tokenizer)

    for path in args.references:
        ref = json.load(open(path, encoding="utf-8"))
        texts, want = ref["texts"], np.array(ref["embeddings"])
        single = np.concatenate([embed(session, tok, [t]) for t in texts])
        batched = embed(session, tok, texts)
        cos = (single * want).sum(1) / np.linalg.norm(want, axis=1)
        print(f"\n{path}\n  {ref['generator']}")
        for t, n, c in zip(texts, ref["token_counts"], cos):
            print(f"  {c:.6f}  {n:>3} tok  {t[:60]!r}")
        print(f"  int8 vs reference: min {cos.min():.6f}  mean {cos.mean():.6f}  "
              f"texts below 0.999: {(cos < 0.999).sum()}/{len(cos)}")
        print(f"  int8 single vs padded batch: min cosine {(single * batched).sum(1).min():.7f}")


if __name__ == "__main__":
    main()
