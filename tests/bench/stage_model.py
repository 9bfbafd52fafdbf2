#!/usr/bin/env python3
"""stage_model.py: the one model and the one set of events that every system
of the stage benchmark (tests/bench/stage_bench.py) uses.

1. THUCNews headlines (label<TAB>text) are tokenized by klabel's own unicode
   tokenizer (`klabel tokenize`), and the same tokenizer rewritten in Python
   (peers/unitok.py) is checked against it line by line.
2. fastText 0.9.2 (`fasttext.train_supervised`, in the reference venv) is
   trained on those tokens -> model.bin: the model the Python stages load.
3. `klabel import model.bin -o model.safetensors` converts it. An imported
   model keeps fastText's whitespace tokenizer, but the stage reads raw
   text, so the "tokenizer" object of its klabel metadata is switched to
   {"mode": "unicode"} (the weights, vocabulary and hashing are untouched;
   `klabel import` has no option for this). klabel then splits raw text
   exactly as the peers do before fastText's predict. The one difference
   left: fastText's predict appends the end-of-line token "</s>" (and its
   bigram) to every line, klabel's unicode mode does not; the share of
   identical top labels is measured here and reported.
4. texts.txt: every headline as JSON string content (escaped, without the
   quotes), one a line, for the load generator.

Everything goes into --out; a second run with the same inputs and settings
reuses it (model.json holds the key). Prints model.json's content."""
import argparse
import hashlib
import json
import os
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "peers"))
import unitok  # noqa: E402


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def read_tsv(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n").rstrip("\r")
            if "\t" not in line:
                continue
            label, text = line.split("\t", 1)
            text = " ".join(text.split())
            if text:
                rows.append((label, text))
    return rows


def set_unicode_tokenizer(path):
    """Rewrites the safetensors header of path with tokenizer.mode=unicode.
    Tensor offsets are relative to the end of the header, so only the
    header changes; it stays padded to a multiple of 8 bytes."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n).decode("utf-8"))
        data = f.read()
    meta = json.loads(header["__metadata__"]["klabel"])
    tok = meta.get("tokenizer") or {}
    before = tok.get("mode", "fasttext")
    tok["mode"] = "unicode"
    meta["tokenizer"] = tok
    header["__metadata__"]["klabel"] = json.dumps(meta, ensure_ascii=False, separators=(",", ":"))
    raw = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    raw += b" " * ((8 - len(raw) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        f.write(data)
    os.replace(tmp, path)
    return before


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--klabel", required=True)
    ap.add_argument("--data", required=True, help="thucnews.tsv")
    ap.add_argument("--out", required=True, help="folder for the model files")
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--epoch", type=int, default=10)
    ap.add_argument("--lr", type=float, default=0.5)
    ap.add_argument("--word-ngrams", type=int, default=2)
    ap.add_argument("--bucket", type=int, default=200000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    os.makedirs(a.out, exist_ok=True)
    info_path = os.path.join(a.out, "model.json")
    params = {"dim": a.dim, "epoch": a.epoch, "lr": a.lr, "wordNgrams": a.word_ngrams,
              "bucket": a.bucket, "minCount": 1, "loss": "softmax", "thread": 1, "seed": a.seed}
    key = hashlib.sha256(json.dumps([params, sha256(a.data), sha256(__file__),
                                     sha256(unitok.__file__), sha256(a.klabel)],
                                    sort_keys=True).encode()).hexdigest()
    if os.path.exists(info_path):
        with open(info_path) as f:
            info = json.load(f)
        if info.get("key") == key and os.path.exists(info["safetensors"]) and os.path.exists(info["bin"]):
            print(json.dumps(info, indent=1))
            return
    import fasttext  # the reference venv's fasttext-wheel 0.9.2

    rows = read_tsv(a.data)
    texts = [t for _, t in rows]
    raw_path = os.path.join(a.out, "raw.txt")
    with open(raw_path, "w", encoding="utf-8") as f:
        f.write("".join(t + "\n" for t in texts))
    ktok = subprocess.run([a.klabel, "tokenize", "-i", raw_path], check=True,
                          capture_output=True).stdout.decode("utf-8").split("\n")[:len(texts)]
    same = sum(1 for t, k in zip(texts, ktok) if unitok.tokenize(t) == k)

    train_path = os.path.join(a.out, "train.txt")
    with open(train_path, "w", encoding="utf-8") as f:
        for (label, _), k in zip(rows, ktok):
            f.write(f"__label__{label} {k}\n")
    t0 = time.time()
    ft = fasttext.train_supervised(input=train_path, dim=a.dim, epoch=a.epoch, lr=a.lr,
                                   wordNgrams=a.word_ngrams, bucket=a.bucket, minCount=1,
                                   loss="softmax", thread=1, seed=a.seed, verbose=0)
    train_s = time.time() - t0
    bin_path = os.path.join(a.out, "model.bin")
    ft.save_model(bin_path)
    st_path = os.path.join(a.out, "model.safetensors")
    subprocess.run([a.klabel, "import", "-q", bin_path, "-o", st_path, "--id", "thucnews-bench",
                    "--version", "1"], check=True)
    mode_before = set_unicode_tokenizer(st_path)

    # Same model, same labels? klabel on raw text vs fastText on unitok tokens.
    ev_path = os.path.join(a.out, "events.jsonl")
    with open(ev_path, "w", encoding="utf-8") as f:
        for i, t in enumerate(texts):
            f.write(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n")
    out = subprocess.run([a.klabel, "predict", "-m", st_path, "-i", ev_path], check=True,
                         capture_output=True).stdout.decode("utf-8").splitlines()
    kl_labels = [json.loads(line)["label"] for line in out]
    ft_labels, _ = ft.predict([unitok.tokenize(t) for t in texts], k=1)
    ft_labels = [x[0][len("__label__"):] for x in ft_labels]
    agree = sum(1 for x, y in zip(kl_labels, ft_labels) if x == y)
    gold_kl = sum(1 for (g, _), x in zip(rows, kl_labels) if g == x)
    gold_ft = sum(1 for (g, _), x in zip(rows, ft_labels) if g == x)

    with open(os.path.join(a.out, "texts.txt"), "w", encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps(t, ensure_ascii=False)[1:-1] + "\n")
    info = {
        "key": key,
        "data": os.path.abspath(a.data),
        "data_sha256": sha256(a.data),
        "headlines": len(texts),
        "params": params,
        "train_seconds": round(train_s, 2),
        "bin": os.path.abspath(bin_path),
        "bin_bytes": os.path.getsize(bin_path),
        "safetensors": os.path.abspath(st_path),
        "import_tokenizer_mode_was": mode_before,
        "texts": os.path.abspath(os.path.join(a.out, "texts.txt")),
        "tokenizer_parity": {"identical_lines": same, "lines": len(texts)},
        "label_agreement": {"identical_top1": agree, "lines": len(texts)},
        "train_set_accuracy": {"klabel": gold_kl / len(texts), "fasttext": gold_ft / len(texts)},
    }
    with open(info_path, "w") as f:
        json.dump(info, f, indent=1)
    print(json.dumps(info, indent=1))


if __name__ == "__main__":
    main()
