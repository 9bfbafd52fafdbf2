#!/usr/bin/env python3
"""segment_check.py: klabel's Chinese segmenter against jieba.

Runs `klabel tokenize --segmenter DICT --raw --json` and
jieba.lcut(text, HMM=False) (jieba 0.42.1 from the reference venv, built
from the same DICT) on every text of a TSV file (label<TAB>text; default
THUCNews, 10,000 headlines), prints the agreement rate, the first
disagreements, both sides' speed, and ends with the plain line
`segment: N passed, N failed` (one check: agreement >= --min-rate).

Usage (from the repository root):
    PY=$(bash tests/ref/venv.sh)
    $PY tests/parity/segment_check.py --klabel build/klabel \
        --dict .cache/data/jieba-dict.txt --data .cache/data/thucnews.tsv
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time


def read_texts(path):
    texts = []
    with open(path, "rb") as f:
        for raw in f.read().split(b"\n"):
            if not raw.strip():
                continue
            line = raw.decode("utf-8")
            if line.endswith("\r"):
                line = line[:-1]
            texts.append(line.split("\t", 1)[1] if "\t" in line else line)
    return texts


def run_klabel(klabel, dict_path, texts):
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt",
                                     delete=False) as tmp:
        for t in texts:
            tmp.write(t + "\n")
    try:
        p = subprocess.run([klabel, "tokenize", "--segmenter", dict_path,
                            "--raw", "--json", "--stats", "-i", tmp.name],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           check=False)
    finally:
        os.unlink(tmp.name)
    if p.returncode != 0:
        sys.stderr.write(p.stderr.decode("utf-8", "replace"))
        raise SystemExit("segment_check: klabel tokenize failed (exit %d)"
                         % p.returncode)
    out = [json.loads(l) for l in p.stdout.decode("utf-8").splitlines()]
    return out, p.stderr.decode("utf-8", "replace")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--klabel", default="build/klabel")
    ap.add_argument("--dict", default=".cache/data/jieba-dict.txt")
    ap.add_argument("--data", default=".cache/data/thucnews.tsv")
    ap.add_argument("--min-rate", type=float, default=0.995)
    ap.add_argument("--show", type=int, default=10,
                    help="disagreements to print")
    a = ap.parse_args()

    import jieba
    jieba.setLogLevel(60)
    texts = read_texts(a.data)

    t0 = time.perf_counter()
    tk = jieba.Tokenizer(dictionary=os.path.abspath(a.dict))
    cache = tempfile.mkdtemp(prefix="segment_check.")
    tk.cache_file = os.path.join(cache, "jieba.cache")  # fresh: a real build
    tk.initialize()
    t_load = time.perf_counter() - t0
    os.unlink(tk.cache_file)
    os.rmdir(cache)
    t0 = time.perf_counter()
    ref = [tk.lcut(t, HMM=False) for t in texts]
    t_ref = time.perf_counter() - t0

    ours, stats = run_klabel(a.klabel, a.dict, texts)
    if len(ours) != len(texts):
        raise SystemExit("segment_check: klabel printed %d lines for %d texts"
                         % (len(ours), len(texts)))
    bad = [i for i in range(len(texts)) if ours[i] != ref[i]]
    rate = 1.0 - len(bad) / len(texts) if texts else 0.0
    print("segment: %d texts from %s, dictionary %s" % (len(texts), a.data,
                                                         a.dict))
    print("segment: agreement with jieba.lcut(HMM=False): %.4f%% "
          "(%d differ)" % (100 * rate, len(bad)))
    for i in bad[:a.show]:
        print("  text:  %s\n  jieba: %s\n  ours:  %s"
              % (texts[i], " / ".join(ref[i]), " / ".join(ours[i])))
    for line in stats.splitlines():
        print("segment: " + line.replace("klabel tokenize: ", "klabel "))
    print("segment: jieba dictionary build %.0f ms (no cache), %d texts in "
          "%.0f ms: %.0f texts/s" % (1e3 * t_load, len(texts), 1e3 * t_ref,
                                     len(texts) / t_ref if t_ref else 0))
    ok = rate >= a.min_rate
    print("segment: agreement >= %.2f%%: %s" % (100 * a.min_rate,
                                               "ok" if ok else "FAILED"))
    print("segment: %d passed, %d failed" % (1 if ok else 0, 0 if ok else 1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
