#!/usr/bin/env python3
"""nn_accuracy.py: test accuracy of bilstm, textcnn and the fastText-style
model on THUCNews, the seed's binary task and the 10-class task.

Split: the first 9,000 lines of thucnews.tsv train, the last 1,000 test
(as tests/bench/accuracy.py); every 10th training line becomes the
validation file (early stopping of the neural models); all three models
train on the remaining lines. Binary task: labels politics against finance
and stocks merged into "finance" (the seed classifies politics against
economy). Each (task, model) is trained with seeds 1, 2, 3 by
`klabel train` and scored by `klabel eval --json`.

Writes results/nn/accuracy.json and the "## Neural models" section of
docs/benchmarks.md (through nn_report.py). Usage:

    python3 tests/bench/nn_accuracy.py --klabel build/klabel \
        --data .cache/data --dict .cache/data/jieba-dict.txt
"""
import argparse
import json
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nn_report  # noqa: E402

PATIENCE = 2
MODELS = {
    # the seed's sizes: Embedding(10000, 128), Bidirectional(LSTM(64)),
    # sequences of at most 100 tokens
    "bilstm": ["--arch", "bilstm", "--dim", "128", "--hidden", "64",
               "--vocab-size", "10000", "--max-len", "100", "--epoch", "10",
               "--batch", "32", "--dropout", "0.2",
               "--patience", str(PATIENCE)],
    "textcnn": ["--arch", "textcnn", "--dim", "128", "--channels", "100",
                "--widths", "3,4,5", "--vocab-size", "10000", "--max-len",
                "100", "--epoch", "10", "--batch", "32", "--dropout", "0.2",
                "--patience", str(PATIENCE)],
    "fasttext": ["--dim", "100", "--epoch", "25", "--lr", "0.5",
                 "--word-ngrams", "2", "--bucket", "200000"],
}


def read(path):
    with open(path, encoding="utf-8") as f:
        return [l.rstrip("\n").split("\t", 1) for l in f if l.strip()]


def write(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        f.writelines("%s\t%s\n" % (a, b) for a, b in rows)


def tasks(data, work):
    rows = read(os.path.join(data, "thucnews.tsv"))
    train, test = rows[:9000], rows[9000:]

    def binary(rs):
        return [("politics" if l == "politics" else "finance", t)
                for l, t in rs if l in ("politics", "finance", "stocks")]

    out = []
    for name, f in (("binary", binary), ("10-class", lambda rs: rs)):
        tr, te = f(train), f(test)
        valid = [r for i, r in enumerate(tr) if i % 10 == 9]
        fit = [r for i, r in enumerate(tr) if i % 10 != 9]
        paths = {k: os.path.join(work, "%s-%s.tsv" % (name, k))
                 for k in ("train", "valid", "test")}
        write(paths["train"], fit)
        write(paths["valid"], valid)
        write(paths["test"], te)
        out.append((name, paths, len(fit), len(valid), len(te)))
    return out


def run(klabel, model, name, paths, seed, dict_path, work):
    out = os.path.join(work, "%s-%s-%d.safetensors" % (name, model, seed))
    cmd = [klabel, "train", "-q", "-i", paths["train"], "-o", out,
           "--seed", str(seed), "--threads", "1"] + MODELS[model]
    if model != "fasttext":
        cmd += ["--valid", paths["valid"], "--segmenter", dict_path]
        if name == "binary":  # the seed's Dense(1, sigmoid)
            cmd += ["--loss", "ova"]
    t0 = time.time()
    subprocess.run(cmd, check=True)
    secs = time.time() - t0
    ev = subprocess.run([klabel, "eval", "-m", out, "-i", paths["test"],
                         "--json"], check=True, stdout=subprocess.PIPE)
    acc = json.loads(ev.stdout)["accuracy"]
    os.unlink(out)
    return {"seed": seed, "accuracy": acc, "seconds": round(secs, 2)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--klabel", default=os.path.join(REPO, "build", "klabel"))
    ap.add_argument("--data", default=os.path.join(REPO, ".cache", "data"))
    ap.add_argument("--dict", default=None)
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--work", default=os.path.join(REPO, "build",
                                                   "bench-nn-accuracy"))
    ap.add_argument("--results", default=os.path.join(REPO, "results", "nn"))
    ap.add_argument("--doc", default=os.path.join(REPO, "docs",
                                                  "benchmarks.md"))
    a = ap.parse_args()
    dict_path = a.dict or os.path.join(a.data, "jieba-dict.txt")
    seeds = [int(s) for s in a.seeds.split(",")]
    os.makedirs(a.work, exist_ok=True)
    os.makedirs(a.results, exist_ok=True)
    res = {"seeds": seeds, "tasks": [], "settings": {
        "patience": PATIENCE,
        "bilstm": " ".join(MODELS["bilstm"]) + " (--loss ova on the binary "
                  "task: one sigmoid output, as the seed's Dense(1, sigmoid); "
                  "Adam lr 0.002, gradient-norm clip 5)",
        "textcnn": " ".join(MODELS["textcnn"]),
        "fasttext": " ".join(MODELS["fasttext"]) + " (tokenizer unicode, "
                    "no segmenter)"}}
    for name, paths, ntr, nva, nte in tasks(a.data, a.work):
        runs = {}
        for model in ("bilstm", "textcnn", "fasttext"):
            runs[model] = []
            for seed in seeds:
                r = run(a.klabel, model, name, paths, seed, dict_path, a.work)
                print("%-8s %-8s seed %d: accuracy %.4f (%.1f s)"
                      % (name, model, seed, r["accuracy"], r["seconds"]),
                      flush=True)
                runs[model].append(r)
        res["tasks"].append({"name": name, "train": ntr, "valid": nva,
                             "test": nte, "runs": runs})
    with open(os.path.join(a.results, "accuracy.json"), "w") as f:
        json.dump(res, f, indent=1)
    nn_report.write_doc(a.doc, nn_report.section(a.results))
    for t in res["tasks"]:
        print(t["name"], {m: nn_report.pct([x["accuracy"] for x in r])
                          for m, r in t["runs"].items()})


if __name__ == "__main__":
    main()
