#!/usr/bin/env python3
"""klabel_export.py: write a klabel neural model file (safetensors) from
numpy arrays; shared by export_torch.py and export_keras.py.

Needs numpy only. The layout is docs/model-format.md's: F32 tensors named
as PyTorch names them (embedding.weight, lstm.weight_ih_l0, ...,
convs.0.weight, ..., fc.weight, fc.bias), then the U8 "vocab" tensor (the
vocabulary words, NUL-terminated, in id order) and, with a jieba
dictionary, "tokenizer.segmenter"; metadata "klabel" with the "nn" object.

    from klabel_export import write_model
    write_model("news.safetensors", "bilstm", tensors, words, labels,
                hidden=64, head="binary", vocab_offset=1, oov_id=-1,
                pad_id=0, max_len=100, padding="pre", truncating="pre",
                segmenter="dict.txt")
"""
import json
import os
import struct

import numpy as np


def write_safetensors(path, tensors, metadata):
    """tensors: [(name, ndarray)], F32 before U8 so floats stay 4-aligned
    (klabel maps them); the header is padded to a multiple of 64 bytes."""
    header, blobs, off = {}, [], 0
    order = sorted(tensors, key=lambda t: t[1].dtype != np.float32)
    for name, a in order:
        a = np.ascontiguousarray(a)
        dt = {np.dtype(np.float32): "F32", np.dtype(np.uint8): "U8"}[a.dtype]
        b = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dt, "shape": list(a.shape),
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = metadata
    h = json.dumps(header, ensure_ascii=False).encode("utf-8")
    h += b" " * ((-(8 + len(h))) % 64)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def jieba_stats(path):
    """(bytes, words, total frequency) of a jieba dict.txt, counted as
    klabel's segmenter counts them (non-blank lines "word freq [tag]")."""
    with open(path, "rb") as f:
        data = f.read()
    words = total = 0
    for line in data.split(b"\n"):
        parts = line.strip().split()
        if not parts:
            continue
        words += 1
        total += int(parts[1]) if len(parts) > 1 else 0
    return data, words, total


def write_model(path, arch, tensors, words, labels, *, hidden=None,
                layers=1, pool="last", widths=None, channels=None,
                head="softmax", vocab_offset=2, pad_id=0, oov_id=1,
                max_len=100, padding="none", truncating="post",
                tokenizer="unicode", segmenter=None, model_id="model",
                version="1", source=None):
    """Writes a klabel model. tensors: {name: ndarray} in the documented
    layout (converted to float32); words: vocabulary in id order (word w is
    embedding row vocab_offset + w); labels: output order (head "binary":
    [negative, positive])."""
    emb = np.asarray(tensors["embedding.weight"], dtype=np.float32)
    rows, dim = emb.shape
    if any(("\0" in w or not w) for w in words):
        raise ValueError("vocabulary words must be non-empty, without NUL")
    if len(set(words)) != len(words):
        raise ValueError("vocabulary words must be distinct")
    if vocab_offset + len(words) > rows:
        raise ValueError("embedding has %d rows: too few for offset %d + %d "
                         "words" % (rows, vocab_offset, len(words)))
    nn = {"rows": int(rows), "vocab_offset": vocab_offset, "pad_id": pad_id,
          "oov_id": oov_id, "max_len": max_len, "padding": padding,
          "truncating": truncating, "head": head}
    if arch == "bilstm":
        nn["lstm"] = {"hidden": int(hidden), "layers": int(layers),
                      "pool": pool}
    elif arch == "textcnn":
        nn["conv"] = {"widths": [int(k) for k in widths],
                      "channels": int(channels)}
    else:
        raise ValueError("arch must be bilstm or textcnn")
    tok = {"mode": tokenizer, "max_tokens": 0}
    out = [(n, np.asarray(a, dtype=np.float32)) for n, a in tensors.items()]
    if segmenter:
        data, nw, total = jieba_stats(segmenter)
        tok["segmenter"] = {"type": "jieba", "words": nw, "total": total}
        out.append(("tokenizer.segmenter", np.frombuffer(data, np.uint8)))
    vocab = b"".join(w.encode("utf-8") + b"\0" for w in words)
    out.append(("vocab", np.frombuffer(vocab, np.uint8)))
    meta = {"format": 1, "architecture": arch, "id": model_id,
            "version": version,
            "loss": "softmax" if head == "softmax" else "ova",
            "dim": int(dim), "nwords": len(words), "bucket": 0,
            "labels": list(labels), "tokenizer": tok, "nn": nn,
            "training": {"source": source or "export"}}
    write_safetensors(path, out, {"klabel": json.dumps(meta,
                                                       ensure_ascii=False)})
