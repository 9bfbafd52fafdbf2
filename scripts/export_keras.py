#!/usr/bin/env python3
"""export_keras.py: a Keras text classifier (and its Tokenizer) -> a
klabel model file.

Supported models (the seed's and the usual TextCNN):

    Embedding(V, E[, mask_zero]) -> Bidirectional(LSTM(H)) [x L, the last
        one without return_sequences, or with return_sequences followed by
        GlobalMaxPooling1D] -> Dense(1, sigmoid) or Dense(n, softmax)
    Embedding(V, E) -> Conv1D(C, k, activation="relu") for several k, each
        -> GlobalMaxPooling1D, Concatenate -> [Dropout] -> Dense

Keras weights are converted to the PyTorch layout of docs/model-format.md:
LSTM kernel (in, 4H) and recurrent_kernel (H, 4H) are transposed (Keras's
gate order i, f, c, o is PyTorch's i, f, g, o), the bias becomes bias_ih
and bias_hh is zero; Conv1D kernels (k, E, C) become (C, E, k); Dense
kernels (F, O) become (O, F).

The Keras Tokenizer's word_index gives the vocabulary: index i is
embedding row i, so the words are vocab_offset = 1 onwards, or 2 onwards
with an oov_token (then oov_id 1); words past num_words are unknown. Texts
padded by pad_sequences (default padding and truncating "pre") are
reproduced with --padding pre unless the Embedding has mask_zero=True
(then nothing depends on the padding and "none" serves each text at its
own length).

    python3 scripts/export_keras.py model.keras --tokenizer tok.json \
        --labels economy,politics --max-len 100 --segmenter dict.txt \
        -o news.safetensors

(tok.json: tokenizer.to_json(). Needs tensorflow / keras to load the model
file; export_layers() takes plain numpy weights and needs numpy only, which
is how the repository tests it.)
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from klabel_export import write_model  # noqa: E402


def lstm_to_torch(kernel, recurrent, bias):
    """Keras LSTM weights -> (weight_ih, weight_hh, bias_ih, bias_hh)."""
    return (np.asarray(kernel, np.float32).T,
            np.asarray(recurrent, np.float32).T,
            np.asarray(bias, np.float32),
            np.zeros_like(np.asarray(bias, np.float32)))


def describe(model):
    """A Keras model -> the plain layer list export_layers() takes."""
    out = []
    for layer in model.layers:
        kind = type(layer).__name__
        cfg = layer.get_config()
        if kind == "Bidirectional":
            cfg = dict(cfg, return_sequences=layer.forward_layer.return_sequences)
        out.append({"type": kind, "config": cfg,
                    "weights": [np.asarray(w) for w in layer.get_weights()]})
    return out


def export_layers(layers, path, words, labels, **kw):
    """layers: [{"type", "config", "weights"}] in model order (describe()).
    Writes path; kw go to write_model (head, vocab_offset, oov_id, ...)."""
    t, lstm, convs, dense, pool = {}, [], [], [], "last"
    for ly in layers:
        k, w = ly["type"], ly["weights"]
        if k == "Embedding":
            t["embedding.weight"] = w[0]
            if ly["config"].get("mask_zero") and kw.get("padding") != "none":
                kw["padding"] = "none"
        elif k == "Bidirectional":
            inner = ly["config"].get("layer", {})
            icfg = inner.get("config", {})
            if inner.get("class_name", "LSTM") != "LSTM" or \
                    icfg.get("activation", "tanh") != "tanh" or \
                    icfg.get("recurrent_activation", "sigmoid") != "sigmoid":
                raise ValueError("only Bidirectional(LSTM) with activation "
                                 "tanh and recurrent_activation sigmoid "
                                 "(the TF2 defaults) is supported")
            if ly["config"].get("merge_mode", "concat") != "concat":
                raise ValueError("Bidirectional merge_mode must be concat")
            lstm.append(w)
            pool = "max" if ly["config"].get("return_sequences") else "last"
        elif k == "Conv1D":
            convs.append(w)
        elif k == "Dense":
            dense.append(w)
        elif k == "GlobalMaxPooling1D" and lstm:
            pool = "max"
    if len(dense) != 1:
        raise ValueError("exactly one Dense layer (the head) is supported")
    if lstm:
        H = lstm[0][1].shape[0]
        for l, w in enumerate(lstm):
            for d, sfx in ((0, ""), (1, "_reverse")):
                wih, whh, bih, bhh = lstm_to_torch(*w[3 * d:3 * d + 3])
                t["lstm.weight_ih_l%d%s" % (l, sfx)] = wih
                t["lstm.weight_hh_l%d%s" % (l, sfx)] = whh
                t["lstm.bias_ih_l%d%s" % (l, sfx)] = bih
                t["lstm.bias_hh_l%d%s" % (l, sfx)] = bhh
        arch = "bilstm"
        kw.update(hidden=H, layers=len(lstm), pool=pool)
    else:
        for j, (kern, b) in enumerate(convs):
            t["convs.%d.weight" % j] = np.transpose(kern, (2, 1, 0))
            t["convs.%d.bias" % j] = b
        arch = "textcnn"
        kw.update(widths=[c[0].shape[0] for c in convs],
                  channels=convs[0][0].shape[2])
    t["fc.weight"] = np.asarray(dense[0][0]).T
    t["fc.bias"] = dense[0][1]
    write_model(path, arch, t, words, labels, source="keras", **kw)


def tokenizer_vocab(tok_json, num_words=None):
    """Keras Tokenizer JSON -> (words, vocab_offset, oov_id)."""
    cfg = json.loads(tok_json)["config"]
    index = cfg["word_index"]
    index = json.loads(index) if isinstance(index, str) else index
    n = num_words or cfg.get("num_words") or (max(index.values()) + 1)
    oov = cfg.get("oov_token")
    first = 2 if oov else 1
    words = [w for w, i in sorted(index.items(), key=lambda p: p[1])
             if first <= i < n]
    return words, first, 1 if oov else -1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", help=".keras or .h5 file")
    ap.add_argument("--tokenizer", required=True,
                    help="tokenizer.to_json() output")
    ap.add_argument("--labels", required=True,
                    help="comma-separated, output order (binary: negative,"
                         "positive)")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--max-len", type=int, default=100)
    ap.add_argument("--padding", default="pre",
                    choices=("none", "pre", "post"))
    ap.add_argument("--truncating", default="pre", choices=("pre", "post"))
    ap.add_argument("--num-words", type=int)
    ap.add_argument("--segmenter", help="jieba dict.txt to embed")
    ap.add_argument("--id", default="model")
    ap.add_argument("--version", default="1")
    a = ap.parse_args()
    from tensorflow import keras  # only for loading the file
    model = keras.models.load_model(a.model)
    with open(a.tokenizer, encoding="utf-8") as f:
        words, offset, oov = tokenizer_vocab(f.read(), a.num_words)
    labels = a.labels.split(",")
    out = model.layers[-1].get_weights()[0].shape[1]
    head = "binary" if out == 1 else (
        "softmax" if model.layers[-1].get_config().get("activation")
        == "softmax" else "sigmoid")
    export_layers(describe(model), a.output, words, labels, head=head,
                  vocab_offset=offset, oov_id=oov, pad_id=0,
                  max_len=a.max_len, padding=a.padding,
                  truncating=a.truncating, segmenter=a.segmenter,
                  model_id=a.id, version=a.version)


if __name__ == "__main__":
    main()
