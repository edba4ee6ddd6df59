#!/usr/bin/env python3
"""Golden embeddings for all-MiniLM-L6-v2, computed without any ML runtime.

The Rust inference crate must reproduce sentence-transformers' output. This
script is an independent oracle: a plain NumPy BERT encoder (HF BertModel
semantics: word+position+token_type embeddings, LayerNorm eps 1e-12, 6 layers,
12 heads, exact erf GELU, additive finfo.min attention mask) fed by the model's
own tokenizer.json (padding off, truncation 256), then attention-mask weighted
mean pooling and L2 normalisation. It runs in float64 by default.

Usage: python3 make_reference.py MODEL_DIR [--out FILE] [--dtype float64|float32]

Run with any python3: it creates ./.venv from requirements.txt (pinned) on
first use and re-executes itself inside it.
"""

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv"


def ensure_venv():
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    py, reqs, stamp = VENV / "bin" / "python", HERE / "requirements.txt", VENV / "requirements.txt"
    if not py.exists():
        subprocess.check_call([sys.executable, "-m", "venv", str(VENV)])
    if not stamp.exists() or stamp.read_text() != reqs.read_text():  # (re)install when the pins change
        subprocess.check_call([str(py), "-m", "pip", "install", "-q", "-r", str(reqs)])
        stamp.write_text(reqs.read_text())
    os.execv(str(py), [str(py), __file__, *sys.argv[1:]])


ensure_venv()

import argparse  # noqa: E402
import json  # noqa: E402
from importlib.metadata import version  # noqa: E402

import numpy as np  # noqa: E402
from safetensors.numpy import load_file  # noqa: E402
from scipy.special import erf  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

MAX_TOKENS = 256
LAYERS, HEADS, EPS = 6, 12, 1e-12

LONG_TEXT = (
    "The old lighthouse keeper had lived on the island for almost forty years, and in that time he had "
    "seen the sea in every mood it could muster. In winter the waves rose like grey walls and broke "
    "against the rocks with a sound that shook the windows of his small stone cottage. In summer the "
    "water lay flat and blue, and fishing boats drifted past in the early morning haze, their engines "
    "humming softly. He kept a logbook of every storm, every shipwreck and every strange light he "
    "noticed on the horizon. Visitors rarely came, but when they did he offered them tea brewed in a "
    "dented copper kettle and told them stories about the sailors who had been saved by the beam of "
    "his lamp. Some of the stories were true, and some had grown a little with each telling. "
    "Scientists from the university arrived one spring to install automatic sensors that would "
    "measure wind speed, rainfall, air pressure and the temperature of the water. They explained "
    "that the lighthouse would soon run itself, controlled by a computer hundreds of miles away, and "
    "that his job would no longer be necessary. He listened politely, nodded, and poured them "
    "another cup of tea. After they left he walked slowly along the cliffs, watching the gulls "
    "circle above the foam, and thought about what it meant to be replaced by a machine that never "
    "slept, never grew tired and never needed to be thanked. He did not feel angry. Instead he felt "
    "a strange kind of relief, as though a weight he had carried for decades had finally been "
    "lifted from his shoulders. That evening he climbed the spiral staircase one more time, polished "
    "the great glass lens until it shone, and sat beside it while the sun sank into the ocean. The "
    "beam swept across the dark water, steady and patient, exactly as it had done every night "
    "since he was a young man. In the autumn he moved to a small village on the mainland, where he "
    "planted vegetables, learned to bake bread and joined a choir that met every Thursday in the "
    "church hall. Children from the village often asked him about the island, and he told them "
    "about the storms, the ships and the lonely light. He never went back, but on clear nights he "
    "could still see the beam from his kitchen window, turning faithfully in the distance, guiding "
    "strangers safely home through the darkness and the rain, long after everyone had forgotten "
    "his name and the many years he had spent keeping it alight for them."
)

TEXTS = [
    "Just finished my morning run and grabbed a coffee. Feeling great about today, let's go!",
    "Best day ever 😂😂🔥🎉 can't stop smiling ❤️👍🏽",
    "@jack_dorsey you need to see this #AI #MachineLearning https://example.com/blog/post?id=42&ref=tw",
    "Crème brûlée, façade, naïve café au lait: señor Müller's Ångström résumé à Zürich.",
    "今天天气很好，我们去公园散步吧。東京タワーに行きたい。서울은 아름답다.",
    "مرحبا بالعالم، كيف حالك اليوم؟ أتمنى لك يوما سعيدا",
    "a",
    "THIS IS ABSOLUTELY UNACCEPTABLE!!! WHERE IS MY ORDER??? I WANT A REFUND NOW",
    LONG_TEXT,
    "  \t leading\ttabs\nnew\r\nlines ...!!!???,,, ;; -- 'quoted' \"double\" ()[]{} non\u00a0breaking zero\u200bwidth   ",
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The stock market fell sharply after the central bank raised interest rates.",
]


def layer_norm(x, w, b):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + EPS) * w + b


def linear(x, W, prefix):
    return x @ W[prefix + ".weight"].T + W[prefix + ".bias"]


def gelu(x):
    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


def encode(W, ids, mask, type_ids):
    """BertModel last_hidden_state for int arrays of shape (batch, seq)."""
    batch, seq = ids.shape
    dim = W["embeddings.word_embeddings.weight"].shape[1]
    hd = dim // HEADS
    x = (W["embeddings.word_embeddings.weight"][ids]
         + W["embeddings.position_embeddings.weight"][:seq]
         + W["embeddings.token_type_embeddings.weight"][type_ids])
    x = layer_norm(x, W["embeddings.LayerNorm.weight"], W["embeddings.LayerNorm.bias"])
    dtype = x.dtype
    bias = ((1.0 - mask) * np.finfo(dtype).min).astype(dtype)[:, None, None, :]
    for i in range(LAYERS):
        p = f"encoder.layer.{i}."

        def heads(t):
            return t.reshape(batch, seq, HEADS, hd).transpose(0, 2, 1, 3)

        q, k, v = (heads(linear(x, W, p + "attention.self." + n)) for n in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(hd).astype(dtype) + bias
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        probs = scores / scores.sum(-1, keepdims=True)
        ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, seq, dim)
        x = layer_norm(linear(ctx, W, p + "attention.output.dense") + x,
                       W[p + "attention.output.LayerNorm.weight"], W[p + "attention.output.LayerNorm.bias"])
        h = gelu(linear(x, W, p + "intermediate.dense"))
        x = layer_norm(linear(h, W, p + "output.dense") + x,
                       W[p + "output.LayerNorm.weight"], W[p + "output.LayerNorm.bias"])
    return x


def mean_pool_normalize(hidden, mask):
    m = mask[..., None].astype(hidden.dtype)
    pooled = (hidden * m).sum(1) / np.maximum(m.sum(1), 1e-9)
    return pooled / np.maximum(np.linalg.norm(pooled, axis=-1, keepdims=True), 1e-12)


def load_tokenizer(model_dir):
    tok = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
    tok.no_padding()  # the file ships with fixed padding to 128
    tok.enable_truncation(MAX_TOKENS)
    return tok


def embed(W, tok, texts):
    """One text at a time, so no padding is involved at all."""
    out, counts = [], []
    for enc in tok.encode_batch(texts):
        arr = [np.array([a], dtype=np.int64) for a in (enc.ids, enc.attention_mask, enc.type_ids)]
        out.append(mean_pool_normalize(encode(W, *arr), arr[1])[0])
        counts.append(len(enc.ids))
    return np.stack(out), counts


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model_dir")
    ap.add_argument("--out", default=str(HERE / "minilm-l6-v2.json"))
    ap.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    args = ap.parse_args()

    W = {k: v.astype(args.dtype) for k, v in load_file(str(Path(args.model_dir) / "model.safetensors")).items()
         if v.dtype.kind == "f"}
    tok = load_tokenizer(args.model_dir)
    emb, counts = embed(W, tok, TEXTS)

    # Padding must not change results: a padded batch agrees with one-at-a-time runs.
    enc = tok.encode_batch(TEXTS[:3])
    n = max(len(e.ids) for e in enc)
    pad = [np.array([getattr(e, f) + [0] * (n - len(e.ids)) for e in enc], dtype=np.int64)
           for f in ("ids", "attention_mask", "type_ids")]
    assert np.allclose(mean_pool_normalize(encode(W, *pad), pad[1]), emb[:3], atol=1e-5)

    sim = emb @ emb.T
    i, j, k = (TEXTS.index(t) for t in TEXTS[-3:])
    print(f"cos(eating food, eating bread) = {sim[i, j]:.4f}; cos(eating food, stock market) = {sim[i, k]:.4f}")
    assert sim[i, j] > 0.6 and sim[i, k] < 0.2, "sanity check failed"
    assert counts[TEXTS.index(LONG_TEXT)] == MAX_TOKENS, "long text should be truncated"

    doc = {
        "model": "minilm-l6-v2",
        "generator": (f"inference/tests/reference/make_reference.py: NumPy {args.dtype} BERT forward, "
                      f"one text per forward pass (no padding), truncation {MAX_TOKENS}, mean pooling + L2; "
                      f"numpy {version('numpy')}, scipy {version('scipy')}, tokenizers {version('tokenizers')}, "
                      f"safetensors {version('safetensors')}"),
        "texts": TEXTS,
        "token_counts": counts,
        "embeddings": [[float(f"{v:.7g}") for v in row] for row in emb.tolist()],
    }
    # One JSON value per line (one embedding row per line) keeps diffs readable.
    lines = [f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in doc.items() if k != "embeddings"]
    rows = ",\n  ".join(json.dumps(r) for r in doc["embeddings"])
    lines.append(f' "embeddings": [\n  {rows}\n ]')
    Path(args.out).write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")
    print(f"wrote {args.out}: {len(TEXTS)} texts, token counts {counts}")


if __name__ == "__main__":
    main()
