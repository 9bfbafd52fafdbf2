#!/usr/bin/env python3
"""Accuracy of klabel's trainer against fastText's on the same tokens.

For each data set (THUCNews, Reuters, MCC merchant descriptors, SMS spam):

1. a fixed split: THUCNews first 9,000 lines / last 1,000; Reuters its
   ModApte train / test files; MCC and SMS 80/20 stratified by label
   (every 5th example of each label, in file order, is a test example);
2. the text of every example tokenized by klabel's own tokenizer
   (`klabel tokenize --tsv`, the unicode tokenizer: NFKC, case folding,
   CJK characters as tokens) and written as fastText lines
   "__label__L tok tok ..."; training lines shuffled once with a fixed
   seed (MCC's file is sorted by label, and neither trainer shuffles);
3. both trainers on those same files with the same hyperparameters and one
   thread: `klabel train --tokenizer fasttext` and fastText 0.9.2's
   `train_supervised`, for each seed;
4. test accuracy over every test line (a line whose label the model never
   saw counts as wrong for both): klabel's from `klabel eval --json`,
   fastText's from `model.test()` (P@1 over the lines whose label it
   knows) times that share of lines.

Writes results/accuracy.json and the section "## Accuracy (klabel train vs
fastText)" of docs/benchmarks.md (only that section is replaced), and
prints the table. Run with the reference venv's python:

    PY=$(bash tests/ref/venv.sh)
    $PY tests/bench/accuracy.py --klabel build/klabel

(`make bench-accuracy` does both, after fetching the data.)
"""
import argparse
import collections
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import fasttext

HEADING = "## Accuracy (klabel train vs fastText)"
SETS = ("thucnews", "reuters", "mcc", "sms")


def read_tsv(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            label, sep, text = line.partition("\t")
            if not sep or not label:
                sys.exit(f"accuracy.py: {path}:{n}: not label<TAB>text")
            rows.append((label, text))
    return rows


def stratified(rows, every=5):
    """80/20 split: the every-th example of each label goes to test."""
    seen = collections.Counter()
    train, test = [], []
    for label, text in rows:
        seen[label] += 1
        (test if seen[label] % every == 0 else train).append((label, text))
    return train, test


def split(name, data):
    if name == "thucnews":
        rows = read_tsv(os.path.join(data, "thucnews.tsv"))
        return rows[:9000], rows[9000:]
    if name == "reuters":
        return (read_tsv(os.path.join(data, "reuters-train.tsv")),
                read_tsv(os.path.join(data, "reuters-test.tsv")))
    if name == "mcc":
        return stratified(read_tsv(os.path.join(data, "mcc.tsv")))
    if name == "sms":
        return stratified(read_tsv(os.path.join(data, "sms-spam.tsv")))
    raise ValueError(name)


def tokenize(klabel, rows):
    """Texts of rows through `klabel tokenize --tsv`, one line each."""
    text = "".join(f"{l}\t{t}\n" for l, t in rows)
    out = subprocess.run([klabel, "tokenize", "--tsv"], input=text.encode(),
                         stdout=subprocess.PIPE, check=True).stdout
    lines = out.decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) != len(rows):
        sys.exit(f"accuracy.py: klabel tokenize gave {len(lines)} lines "
                 f"for {len(rows)}")
    return lines


def write_ft(path, rows, toks):
    with open(path, "w", encoding="utf-8") as f:
        for (label, _), t in zip(rows, toks):
            label = re.sub(r"\s+", "_", label)
            f.write(f"__label__{label} {t}\n")


def run_klabel(args, work, train, test, seed):
    model = os.path.join(work, f"klabel-{seed}.safetensors")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    t0 = time.monotonic()
    subprocess.run([args.klabel, "train", "-q", "-i", train, "-o", model,
                    "--tokenizer", "fasttext", "--dim", str(args.dim),
                    "--epoch", str(args.epoch), "--lr", str(args.lr),
                    "--word-ngrams", str(args.word_ngrams),
                    "--bucket", str(args.bucket), "--min-count", "1",
                    "--threads", "1", "--seed", str(seed)],
                   check=True, env=env)
    secs = time.monotonic() - t0
    out = subprocess.run([args.klabel, "eval", "-m", model, "-i", test,
                          "--json"], stdout=subprocess.PIPE, check=True,
                         env=env).stdout
    os.unlink(model)
    rep = json.loads(out)
    return rep["accuracy"], secs


def run_fasttext(args, work, train, test, ntest, seed):
    path = os.path.join(work, f"fasttext-{seed}.bin")
    t0 = time.monotonic()
    m = fasttext.train_supervised(
        input=train, dim=args.dim, epoch=args.epoch, lr=args.lr,
        wordNgrams=args.word_ngrams, bucket=args.bucket, minCount=1,
        thread=1, seed=seed, loss="softmax", verbose=0)
    m.save_model(path)  # klabel's time includes writing its model too
    secs = time.monotonic() - t0
    os.unlink(path)
    n, p1, _ = m.test(test)
    # test() skips lines whose labels the model lacks: count them wrong
    return p1 * n / ntest, secs


def stats(xs):
    pts = [100.0 * x for x in xs]
    return statistics.mean(pts), (statistics.stdev(pts) if len(pts) > 1 else 0.0)


def table(results):
    lines = ["| set | train / test lines | klabel (mean ± sd) | "
             "fastText (mean ± sd) | klabel − fastText |",
             "|---|---|---|---|---|"]
    for name, r in results["sets"].items():
        lines.append(
            f"| {name} | {r['train']} / {r['test']} | "
            f"{r['klabel_mean']:.2f} ± {r['klabel_sd']:.2f} | "
            f"{r['fasttext_mean']:.2f} ± {r['fasttext_sd']:.2f} | "
            f"{r['diff'] + 0.0 if abs(r['diff']) >= 0.005 else 0.0:+.2f} |")
    return "\n".join(lines)


def section(results, args):
    h = results["hyperparameters"]
    secs = "; ".join(f"{n} {r['klabel_train_s']:.1f} s vs "
                     f"{r['fasttext_train_s']:.1f} s"
                     for n, r in results["sets"].items())
    return f"""{HEADING}

Test accuracy in percent, mean ± standard deviation over seeds
{", ".join(map(str, results["seeds"]))}, of a model trained by `klabel train`
and one trained by fastText 0.9.2 (`fasttext.train_supervised`) on the
same files: both see the same tokens (each text tokenized once by klabel's
unicode tokenizer, `klabel tokenize --tsv`, written as
`__label__L tok tok ...`; klabel trains with `--tokenizer fasttext` on it)
and the same hyperparameters: dim {h["dim"]}, epoch {h["epoch"]},
lr {h["lr"]}, wordNgrams {h["word_ngrams"]}, bucket {h["bucket"]},
minCount 1, softmax loss, one thread. Splits: THUCNews first 9,000 lines
/ last 1,000; Reuters (corn/grain/other) ModApte train / test; MCC
merchant descriptors and SMS spam 80/20 stratified by label (every 5th
example of a label is a test example). Training lines are shuffled once
with a fixed seed (the MCC file is sorted by label and neither trainer
shuffles). A test line whose label the model never saw counts as wrong for
both.

{table(results)}

Mean wall time per training run including writing the model file
(about 800 MB for bucket {h["bucket"]:,}), klabel (a `klabel train`
process) vs fastText (in the Python process), one thread, same machine,
same run: {secs}.

Command: `make bench-accuracy` (raw numbers in `results/accuracy.json`).
"""


def write_doc(path, text):
    old = ""
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            old = f.read()
    if HEADING in old:
        start = old.index(HEADING)
        m = re.compile(r"^## ", re.M).search(old, start + len(HEADING))
        end = m.start() if m else len(old)
        new = old[:start] + text.rstrip("\n") + "\n" + (
            "\n" + old[end:] if m else "")
    elif old:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        new = "# Benchmarks\n\n" + text
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(new)
    os.replace(tmp, path)


def main():
    repo = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--klabel", default=os.path.join(repo, "build", "klabel"))
    ap.add_argument("--data", default=os.path.join(repo, ".cache", "data"))
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--dim", type=int, default=100)
    ap.add_argument("--epoch", type=int, default=25)
    ap.add_argument("--lr", type=float, default=0.5)
    ap.add_argument("--word-ngrams", type=int, default=2)
    ap.add_argument("--bucket", type=int, default=2000000)
    ap.add_argument("--out", default=os.path.join(repo, "results",
                                                  "accuracy.json"))
    ap.add_argument("--doc", default=os.path.join(repo, "docs",
                                                  "benchmarks.md"),
                    help="markdown file whose accuracy section is replaced "
                         "('' = none)")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    results = {"seeds": seeds, "fasttext_version": "0.9.2",
               "hyperparameters": {"dim": args.dim, "epoch": args.epoch,
                                   "lr": args.lr,
                                   "word_ngrams": args.word_ngrams,
                                   "bucket": args.bucket, "min_count": 1,
                                   "loss": "softmax", "threads": 1},
               "sets": {}}
    work = tempfile.mkdtemp(prefix="kl-accuracy-")
    try:
        for name in args.sets.split(","):
            train_rows, test_rows = split(name, args.data)
            random.Random(12345).shuffle(train_rows)
            train = os.path.join(work, f"{name}.train.txt")
            test = os.path.join(work, f"{name}.test.txt")
            write_ft(train, train_rows, tokenize(args.klabel, train_rows))
            write_ft(test, test_rows, tokenize(args.klabel, test_rows))
            kl, ft, kls, fts = [], [], [], []
            for seed in seeds:
                a, s = run_klabel(args, work, train, test, seed)
                kl.append(a)
                kls.append(s)
                a, s = run_fasttext(args, work, train, test, len(test_rows),
                                    seed)
                ft.append(a)
                fts.append(s)
                print(f"{name} seed {seed}: klabel {100 * kl[-1]:.2f}  "
                      f"fastText {100 * ft[-1]:.2f}", file=sys.stderr)
            km, ks = stats(kl)
            fm, fs = stats(ft)
            results["sets"][name] = {
                "train": len(train_rows), "test": len(test_rows),
                "labels": len({l for l, _ in train_rows}),
                "klabel": kl, "fasttext": ft,
                "klabel_mean": km, "klabel_sd": ks,
                "fasttext_mean": fm, "fasttext_sd": fs, "diff": km - fm,
                "klabel_train_s": statistics.mean(kls),
                "fasttext_train_s": statistics.mean(fts)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1)
        f.write("\n")
    print(table(results))
    if args.doc:
        write_doc(args.doc, section(results, args))
    worst = min(r["diff"] for r in results["sets"].values())
    if worst < -0.5:
        print(f"accuracy.py: klabel is {-worst:.2f} points below fastText "
              "on a set (more than 0.5)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
