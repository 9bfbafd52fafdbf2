#!/usr/bin/env python3
"""fasttext_parity.py: klabel against fastText 0.9.2 on real data.

For THUCNews (Chinese headlines, segmented with jieba.lcut(text, HMM=False)
and joined with spaces; every fifth line held out) and Reuters-21578 (the
given train/test files), and MCC merchant descriptions with their 4-digit
codes (932 labels: the only set with enough labels for fastText to quantize
the output matrix, qout), this script trains fastText supervised models
with several settings (softmax with word bigrams, one-vs-all, hierarchical
softmax, char n-grams) and quantizes some of them to .ftz (with and without
qnorm, retrain, a cutoff that prunes the dictionary, an odd dsub, qout).
For each model it writes fastText's predictions of every test document
(k=5, threshold 0, probabilities), then has klabel predict the same
documents from the .bin / .ftz directly and from the safetensors file that
`klabel import` makes of it (`klabel predict -m MODEL -k 5`; the imported
models use klabel's fastText tokenizer mode, which appends "</s>" as
fastText's predict does).

Per model and form: documents, top-1 agreement, top-5 agreement (the label
lists, in order), the largest |probability difference| over the top-5
entries. A form passes with 100% top-1, 100% top-5 and a difference of at
most 1e-4. Ends with "parity: N passed, N failed"; exits 1 on any failure.

Usage: python fasttext_parity.py --klabel build/klabel --data .cache/data
                        --work DIR [--quick]
(run with the reference venv's python: PY=$(bash tests/ref/venv.sh)).
--quick trains the smaller subset that `make test` runs (THUCNews and
Reuters; softmax, ova, hs; one pruned .ftz with qnorm, one kept as codes).
"""
import argparse
import logging
import os
import subprocess
import sys
import time

import fasttext
import jieba

fasttext.FastText.eprint = lambda *a, **k: None  # load_model's warning

PROB_TOL = 1e-4
K = 5


def read_tsv(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            label, text = line.split("\t", 1)
            rows.append((label, text))
    return rows


def write_train(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for label, text in rows:
            f.write("__label__%s %s\n" % (label, text))


def write_docs(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for _, text in rows:
            f.write(text + "\n")


def prepare(data, work, quick):
    """Train/test files per data set: {name: (train_path, test_rows)}."""
    sets = {}
    jieba.setLogLevel(logging.WARNING)
    rows = read_tsv(os.path.join(data, "thucnews.tsv"))
    rows = [(lab, " ".join(jieba.lcut(text, HMM=False))) for lab, text in rows]
    train = [r for i, r in enumerate(rows) if i % 5 != 0]
    test = [r for i, r in enumerate(rows) if i % 5 == 0]
    sets["thucnews"] = (train, test)
    sets["reuters"] = (read_tsv(os.path.join(data, "reuters-train.tsv")),
                       read_tsv(os.path.join(data, "reuters-test.tsv")))
    if not quick:
        rows = read_tsv(os.path.join(data, "mcc-code.tsv"))
        sets["mcc"] = ([r for i, r in enumerate(rows) if i % 4 != 0],
                       [r for i, r in enumerate(rows) if i % 4 == 0])
    out = {}
    for name, (train, test) in sets.items():
        tp = os.path.join(work, name + ".train.txt")
        write_train(tp, train)
        dp = os.path.join(work, name + ".test.txt")
        write_docs(dp, test)
        out[name] = (tp, dp, [t for _, t in test])
    return out


# (name, train args). All: dim 16 unless given, 1 thread, fixed seed,
# verbose 0.
BASE = dict(dim=16, epoch=5, lr=0.5, minCount=1, bucket=200000, thread=1,
            seed=7, verbose=0)
MODELS = [
    ("softmax-bigram", dict(loss="softmax", wordNgrams=2)),
    ("ova-bigram", dict(loss="ova", wordNgrams=2)),
    ("hs-bigram", dict(loss="hs", wordNgrams=2)),
    ("softmax-char2-4", dict(loss="softmax", wordNgrams=1, minn=2, maxn=4)),
    ("hs-char1-3", dict(loss="hs", wordNgrams=2, minn=1, maxn=3)),
    # dim 64: rows at least twice as wide as the labels' projected rows,
    # so klabel predicts through its label projections (engine/project.c)
    ("softmax-bigram-d64", dict(loss="softmax", wordNgrams=2, dim=64)),
    ("ova-bigram-d64", dict(loss="ova", wordNgrams=2, dim=64)),
    ("hs-char1-3-d64", dict(loss="hs", wordNgrams=2, minn=1, maxn=3, dim=64)),
]
# (name, base model, quantize args). cutoff prunes the dictionary.
QUANT = [
    ("softmax-bigram.q", "softmax-bigram", dict(qnorm=False)),
    ("softmax-bigram.q-cut-retrain-qnorm", "softmax-bigram",
     dict(cutoff=3000, retrain=True, qnorm=True)),
    ("ova-bigram.q-dsub3-qnorm", "ova-bigram", dict(dsub=3, qnorm=True)),
    ("hs-bigram.q-cut", "hs-bigram", dict(cutoff=2000, qnorm=False)),
    ("softmax-char2-4.q-cut-qnorm", "softmax-char2-4",
     dict(cutoff=5000, qnorm=True, retrain=True)),
]
QUICK_MODELS = {"softmax-bigram", "hs-bigram", "ova-bigram",
                "softmax-bigram-d64", "hs-char1-3-d64"}
QUICK_QUANT = {"softmax-bigram.q-cut-retrain-qnorm", "hs-bigram.q-cut"}
# The 932-label set: qout needs an output matrix of at least 256 rows.
MCC_MODELS = [("softmax-bigram", dict(loss="softmax", wordNgrams=2)),
              ("hs-bigram", dict(loss="hs", wordNgrams=2))]
MCC_QUANT = [("softmax-bigram.q-qout-qnorm-cut", "softmax-bigram",
              dict(qout=True, qnorm=True, cutoff=1000, retrain=True)),
             ("hs-bigram.q-qout", "hs-bigram", dict(qout=True))]


class quiet_stderr:
    """Sends file descriptor 2 to /dev/null for a with-block."""

    def __enter__(self):
        sys.stderr.flush()
        self.saved = os.dup(2)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 2)
        os.close(null)

    def __exit__(self, *exc):
        os.dup2(self.saved, 2)
        os.close(self.saved)


def strip(label):
    return label[len("__label__"):] if label.startswith("__label__") else label


def ft_predict(model_path, docs):
    m = fasttext.load_model(model_path)
    t0 = time.perf_counter()
    labels, probs = m.predict(docs, k=K, threshold=0.0)
    dt = time.perf_counter() - t0
    return [[(strip(l), float(p)) for l, p in zip(ls, ps)]
            for ls, ps in zip(labels, probs)], dt


def kl_predict(klabel, model_path, docs_path):
    t0 = time.perf_counter()
    r = subprocess.run([klabel, "predict", "-m", model_path, "-k", str(K),
                        "-i", docs_path], capture_output=True, text=True)
    dt = time.perf_counter() - t0
    out = []
    for line in r.stdout.splitlines():
        f = line.split("\t")
        out.append([(f[i], float(f[i + 1])) for i in range(0, len(f) - 1, 2)])
    return out, r.returncode, r.stderr.strip(), dt


def compare(ref, got):
    n = len(ref)
    if len(got) != n:
        return n, 0, 0, float("inf")
    top1 = top5 = 0
    diff = 0.0
    for a, b in zip(ref, got):
        top1 += bool(a) and bool(b) and a[0][0] == b[0][0]
        top5 += [x for x, _ in a] == [x for x, _ in b]
        for (la, pa), (lb, pb) in zip(a, b):
            diff = max(diff, abs(pa - pb))
    return n, top1, top5, diff


def train_all(name, train_path, work, quick):
    """Trains and quantizes; returns [(model name, path)]."""
    models, quant = MODELS, QUANT
    if name == "mcc":
        models, quant = MCC_MODELS, MCC_QUANT
    elif quick:
        models = [m for m in MODELS if m[0] in QUICK_MODELS]
        quant = [q for q in QUANT if q[0] in QUICK_QUANT]
    paths = []
    for mname, args in models:
        p = os.path.join(work, "%s.%s.bin" % (name, mname))
        m = fasttext.train_supervised(input=train_path, **dict(BASE, **args))
        m.save_model(p)
        paths.append((mname, p))
    for qname, base, qargs in quant:
        m = fasttext.load_model(os.path.join(work, "%s.%s.bin" % (name, base)))
        if qargs.get("retrain"):
            qargs = dict(qargs, input=train_path)
        with quiet_stderr():  # retraining prints progress regardless
            m.quantize(verbose=0, thread=1, **qargs)
        p = os.path.join(work, "%s.%s.ftz" % (name, qname))
        m.save_model(p)
        paths.append((qname, p))
    return paths


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--klabel", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    t_start = time.perf_counter()
    passed = failed = 0
    sets = prepare(a.data, a.work, a.quick)
    print("%-9s %-36s %-11s %5s %8s %8s %9s %7s %7s" %
          ("data", "model", "form", "docs", "top-1", "top-5", "max|dp|",
           "ft s", "kl s"))
    for name, (train_path, docs_path, docs) in sets.items():
        for mname, path in train_all(name, train_path, a.work, a.quick):
            ref, ft_s = ft_predict(path, docs)
            st = path + ".safetensors"
            imp = subprocess.run([a.klabel, "import", "-q", path, "-o", st,
                                  "--id", mname], capture_output=True,
                                 text=True)
            forms = [(os.path.splitext(path)[1][1:], path)]
            if imp.returncode == 0:
                forms.append(("safetensors", st))
            else:
                print("FAIL %s %s: klabel import: %s" %
                      (name, mname, imp.stderr.strip()))
                failed += 1
            for form, mp in forms:
                got, rc, err, kl_s = kl_predict(a.klabel, mp, docs_path)
                n, t1, t5, diff = compare(ref, got)
                ok = rc == 0 and t1 == n and t5 == n and diff <= PROB_TOL
                passed += ok
                failed += not ok
                print("%-9s %-36s %-11s %5d %7.2f%% %7.2f%% %9.2e %7.3f %7.3f%s"
                      % (name, mname, form, n, 100.0 * t1 / max(n, 1),
                         100.0 * t5 / max(n, 1), diff, ft_s, kl_s,
                         "" if ok else "  FAIL" + (" (%s)" % err if rc else "")))
                sys.stdout.flush()
    print("(ft s: fastText's predict of the documents, model loaded; kl s: "
          "the whole `klabel predict` process, model load included)")
    print("total %.1f s" % (time.perf_counter() - t_start))
    print("parity: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
