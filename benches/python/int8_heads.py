#!/usr/bin/env python3
"""The int8 accuracy gate: every head of the text model on TweetEval validation, f32 against int8.

For each task, embeds the validation tweets with both ONNX graphs (same tokenizer, mean pooling,
L2, as the server), applies the heads (`heads.json`: softmax over one linear layer), and scores
the predictions with the task's official metric. Prints each task's score under both graphs and
the difference with its 95 % paired-bootstrap interval (how much of it the validation set's size
alone explains), the share of tweets given the same label, and the cosine between the two graphs' sentence vectors over every validation
tweet. The gate (issue 12): every task within 0.5 points, mean cosine >= 0.995, minimum >= 0.98.
Validation data only: the test splits are held out.

Each int8 graph is scored twice: with the f32 heads as they are, and with each head's prior shift
chosen again on the int8 graph's validation logits. The shift is the one calibration step `eiq
train` applies to the f32 heads (training/src/run.rs, `calibrate`: add `shift * log prior` to the
bias, shift from {0, ±0.5, ±1}, ties keep the served shift), so both precisions get the same
recipe. The prior is the training labels' share (TweetEval train; SemEval-2017 4A for sentiment,
before `eiq train`'s de-duplication). `--heads-out DIR` writes each variant's recalibrated heads as
DIR/<variant>.heads.json, in heads.json's format. Without `--heads` (a plain sentence encoder) only
the cosine half of the gate applies.

Usage: ../.venv/bin/python int8_heads.py --f32 M --int8 M [M ...] --tokenizer T
    [--heads H --report training-report.json [--heads-out DIR]] [--vectors-cache DIR]
(run_int8_gate.sh builds the variants and runs this.)
"""

import argparse
import hashlib
import json
import time
from pathlib import Path

import numpy as np

from ort_throughput import embed, load_tokenizer, make_session

TWEETEVAL = Path(__file__).resolve().parents[2] / "datasets/tweeteval"
SEMEVAL = Path(__file__).resolve().parents[2] / "datasets/semeval2017-task4a"
# The official metric per task (TweetEval): macro recall, macro F1, or the F1 of the ironic class.
METRICS = {"sentiment": "macro_recall", "emotion": "macro_f1", "offensive": "macro_f1", "hate": "macro_f1",
           "irony": "positive_f1"}
MAX_DIFF_POINTS, MIN_MEAN_COSINE, MIN_COSINE = 0.5, 0.995, 0.98
PRIOR_SHIFTS = [0.0, -0.5, 0.5, -1.0, 1.0]  # as training/src/run.rs


def score(metric, gold, predicted, labels):
    confusion = np.zeros((labels, labels))
    np.add.at(confusion, (gold, predicted), 1)
    recall = np.diag(confusion) / np.maximum(confusion.sum(1), 1)
    precision = np.diag(confusion) / np.maximum(confusion.sum(0), 1)
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0)
    return {"macro_recall": recall.mean(), "macro_f1": f1.mean(), "positive_f1": f1[1]}[metric] * 100


def paired_interval(metric, gold, a, b, labels, rounds=1000):
    """95 % interval of score(b) - score(a) over bootstrap resamples of the tweets (seeded)."""
    rng = np.random.default_rng(0)
    diffs = []
    for _ in range(rounds):
        pick = rng.integers(0, len(gold), len(gold))
        diffs.append(score(metric, gold[pick], b[pick], labels) - score(metric, gold[pick], a[pick], labels))
    return np.percentile(diffs, [2.5, 97.5])


def vectors(session, tok, texts, batch=64):
    return np.concatenate([embed(session, tok, texts[i:i + batch]) for i in range(0, len(texts), batch)])


def predict(head, x, bias=None):
    bias = np.array(head["bias"], dtype=np.float32) if bias is None else bias
    return (x @ np.array(head["weights"], dtype=np.float32).T + bias).argmax(1)


def recalibrated_bias(head, served_shift, log_prior, metric, gold, x):
    """The bias and prior shift that score best on these vectors; the served shift wins ties."""
    served = np.array(head["bias"], dtype=np.float32)
    labels = len(head["labels"])
    best = (score(metric, gold, predict(head, x, served), labels), served, served_shift)
    for shift in PRIOR_SHIFTS:
        bias = served + np.float32(shift - served_shift) * log_prior
        candidate = score(metric, gold, predict(head, x, bias), labels)
        if candidate > best[0]:
            best = (candidate, bias, shift)
    return best[1], best[2]


def train_log_prior(task, labels):
    """Log share of each label in the task's training data (sentiment: SemEval-2017 4A, as `eiq train`)."""
    if task == "sentiment":
        names = ["negative", "neutral", "positive"]
        rows = [line.split("\t")[1] for path in sorted(SEMEVAL.glob("*.txt"))
                for line in path.read_text(encoding="utf-8").splitlines() if line.count("\t") >= 2]
        values = [names.index(label) for label in rows if label in names]
    else:
        values = [int(v) for v in (TWEETEVAL / task / "train_labels.txt").read_text().split()]
    counts = np.bincount(values, minlength=labels).astype(np.float32)
    return np.log(np.maximum(counts, 1) / counts.sum())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--f32", required=True)
    ap.add_argument("--int8", required=True, nargs="+")
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--heads", help="the text model's heads.json (none for a plain sentence encoder)")
    ap.add_argument("--report", help="the text model's training-report.json (served prior shifts)")
    ap.add_argument("--heads-out", type=Path, help="folder for each variant's recalibrated heads")
    ap.add_argument("--vectors-cache", type=Path, help="folder keeping each graph's vectors, by the graph's sha256")
    args = ap.parse_args()
    tok = load_tokenizer(args.tokenizer)
    if args.heads and not args.report:
        ap.error("--heads needs --report")
    heads_file = json.load(open(args.heads, encoding="utf-8")) if args.heads else {"heads": []}
    heads = {h["task"]: h for h in heads_file["heads"]}
    served_shift = {t["task"]: t["fine_tuned"]["prior_shift"]
                    for t in json.load(open(args.report, encoding="utf-8"))["tasks"]} if heads else {}
    data = {}
    for task in METRICS:
        folder = TWEETEVAL / task
        texts = (folder / "val_text.txt").read_text(encoding="utf-8").splitlines()
        gold = np.array([int(line) for line in (folder / "val_labels.txt").read_text().split()])
        data[task] = (texts, gold)
    graphs = [("f32", args.f32)] + [(Path(p).name, p) for p in args.int8]
    digests = {name: hashlib.sha256(Path(path).read_bytes()).hexdigest() for name, path in graphs}
    embedded = {}
    for name, path in graphs:
        cached = args.vectors_cache and args.vectors_cache / f"{digests[name]}.npz"
        if cached and cached.exists():
            embedded[name] = dict(np.load(cached))
            continue
        session = make_session(path)
        started = time.perf_counter()
        embedded[name] = {task: vectors(session, tok, texts) for task, (texts, _) in data.items()}
        count = sum(len(texts) for texts, _ in data.values())
        print(f"{name}: {count} validation tweets in {time.perf_counter() - started:.1f} s", flush=True)
        if cached:
            cached.parent.mkdir(parents=True, exist_ok=True)
            np.savez(cached, **embedded[name])
    reference = embedded["f32"]
    for name, _ in graphs[1:]:
        print(f"\n{name} against f32")
        passed, recalibrated = True, []
        for task, (_, gold) in data.items() if heads else ():
            head, labels, metric = heads[task], len(heads[task]["labels"]), METRICS[task]
            vectors_f32, vectors_int8 = reference[task], embedded[name][task]
            bias, shift = recalibrated_bias(head, served_shift[task], train_log_prior(task, labels), metric, gold,
                                            vectors_int8)
            ours = predict(head, vectors_f32)
            f32 = score(metric, gold, ours, labels)
            as_served = score(metric, gold, predict(head, vectors_int8), labels) - f32
            theirs = predict(head, vectors_int8, bias)
            int8 = score(metric, gold, theirs, labels)
            provenance = {**head["provenance"], "method": "fine-tuned, int8 weights (dynamic, per channel)",
                          "precision": "int8", "prior_shift": shift, "validation": int8 / 100,
                          "f32_validation": f32 / 100, "int8_graph_sha256": digests[name]}
            recalibrated.append({**head, "bias": [float(b) for b in bias], "provenance": provenance})
            low, high = paired_interval(metric, gold, ours, theirs, labels)
            passed &= abs(int8 - f32) <= MAX_DIFF_POINTS
            print(f"  {task:<9} {metric:<12} f32 {f32:6.2f}  int8 {int8:6.2f}  diff {int8 - f32:+5.2f} "
                  f"(95 % {low:+5.2f} to {high:+5.2f}; f32 heads {as_served:+5.2f})  "
                  f"same label {(ours == theirs).mean() * 100:5.1f} %")
        cosine = np.concatenate([(reference[t] * embedded[name][t]).sum(1) for t in data])
        passed &= cosine.mean() >= MIN_MEAN_COSINE and cosine.min() >= MIN_COSINE
        print(f"  cosine to f32: mean {cosine.mean():.5f}  min {cosine.min():.5f}  "
              f"p1 {np.percentile(cosine, 1):.5f}")
        print(f"  gate (each task within {MAX_DIFF_POINTS} points, mean cosine >= {MIN_MEAN_COSINE}, "
              f"min >= {MIN_COSINE}): {'PASS' if passed else 'FAIL'}")
        if args.heads_out and heads:
            args.heads_out.mkdir(parents=True, exist_ok=True)
            out = args.heads_out / f"{Path(name).stem}.heads.json"
            out.write_text(json.dumps({**heads_file, "heads": recalibrated}), encoding="utf-8")

if __name__ == "__main__":
    main()
