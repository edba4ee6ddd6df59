#!/usr/bin/env python3
"""The int8 accuracy gate: every head of the text model on TweetEval validation, f32 against int8.

For each task, embeds the validation tweets with both ONNX graphs (same tokenizer, mean pooling,
L2, as the server), applies the heads (`heads.json`: softmax over one linear layer), and scores
the predictions with the task's official metric. Prints each task's score under both graphs and
the difference with its 95 % paired-bootstrap interval (how much of it the validation set's size
alone explains), the share of tweets given the same label, and the cosine between the two graphs' sentence vectors over every validation
tweet. The gate (issue 12): every task within 0.5 points, mean cosine >= 0.995, minimum >= 0.98.
Validation data only: the test splits are held out.

Usage: ../.venv/bin/python int8_heads.py --f32 M --int8 M [M ...] --tokenizer T --heads H
(run_int8_gate.sh builds the variants and runs this.)
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

from ort_throughput import embed, load_tokenizer, make_session

TWEETEVAL = Path(__file__).resolve().parents[2] / "datasets/tweeteval"
# The official metric per task (TweetEval): macro recall, macro F1, or the F1 of the ironic class.
METRICS = {"sentiment": "macro_recall", "emotion": "macro_f1", "offensive": "macro_f1", "hate": "macro_f1",
           "irony": "positive_f1"}
MAX_DIFF_POINTS, MIN_MEAN_COSINE, MIN_COSINE = 0.5, 0.995, 0.98


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


def predict(head, x):
    logits = x @ np.array(head["weights"], dtype=np.float32).T + np.array(head["bias"], dtype=np.float32)
    return logits.argmax(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--f32", required=True)
    ap.add_argument("--int8", required=True, nargs="+")
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--heads", required=True)
    args = ap.parse_args()
    tok = load_tokenizer(args.tokenizer)
    heads = {h["task"]: h for h in json.load(open(args.heads, encoding="utf-8"))["heads"]}
    data = {}
    for task in METRICS:
        folder = TWEETEVAL / task
        texts = (folder / "val_text.txt").read_text(encoding="utf-8").splitlines()
        gold = np.array([int(line) for line in (folder / "val_labels.txt").read_text().split()])
        data[task] = (texts, gold)
    graphs = [("f32", args.f32)] + [(Path(p).name, p) for p in args.int8]
    embedded = {}
    for name, path in graphs:
        session = make_session(path)
        started = time.perf_counter()
        embedded[name] = {task: vectors(session, tok, texts) for task, (texts, _) in data.items()}
        count = sum(len(texts) for texts, _ in data.values())
        print(f"{name}: {count} validation tweets in {time.perf_counter() - started:.1f} s")
    reference = embedded["f32"]
    for name, _ in graphs[1:]:
        print(f"\n{name} against f32")
        passed = True
        for task, (_, gold) in data.items():
            head, labels = heads[task], len(heads[task]["labels"])
            ours, theirs = predict(head, reference[task]), predict(head, embedded[name][task])
            f32, int8 = score(METRICS[task], gold, ours, labels), score(METRICS[task], gold, theirs, labels)
            low, high = paired_interval(METRICS[task], gold, ours, theirs, labels)
            passed &= abs(int8 - f32) <= MAX_DIFF_POINTS
            print(f"  {task:<9} {METRICS[task]:<12} f32 {f32:6.2f}  int8 {int8:6.2f}  diff {int8 - f32:+5.2f} "
                  f"(95 % {low:+5.2f} to {high:+5.2f})  same label {(ours == theirs).mean() * 100:5.1f} %")
        cosine = np.concatenate([(reference[t] * embedded[name][t]).sum(1) for t in data])
        passed &= cosine.mean() >= MIN_MEAN_COSINE and cosine.min() >= MIN_COSINE
        print(f"  cosine to f32: mean {cosine.mean():.5f}  min {cosine.min():.5f}  "
              f"p1 {np.percentile(cosine, 1):.5f}")
        print(f"  gate (each task within {MAX_DIFF_POINTS} points, mean cosine >= {MIN_MEAN_COSINE}, "
              f"min >= {MIN_COSINE}): {'PASS' if passed else 'FAIL'}")


if __name__ == "__main__":
    main()
