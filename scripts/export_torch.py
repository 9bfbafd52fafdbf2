#!/usr/bin/env python3
"""export_torch.py: a PyTorch text classifier -> a klabel model file.

The model must be built like this (any names for the class; the attribute
names matter, they become the tensor names of docs/model-format.md):

    class BiLSTM(nn.Module):                 class TextCNN(nn.Module):
        embedding = nn.Embedding(V, E)           embedding = nn.Embedding(V, E)
        lstm = nn.LSTM(E, H, num_layers=L,       convs = nn.ModuleList(
                       bidirectional=True,           [nn.Conv1d(E, C, k) for k in (3, 4, 5)])
                       batch_first=...)          fc = nn.Linear(C * 3, O)
        fc = nn.Linear(2 * H, O)
    forward: last states (h_n of both          forward: ReLU, max over time,
    directions, concatenated fwd, rev) or      concatenated in widths' order,
    max over time of the outputs, then fc.     then fc.

Usage, from Python (torch installed):

    from export_torch import export
    export(model, "news.safetensors", words=itos[2:], labels=["neg", "pos"],
           head="binary", pool="last", vocab_offset=2, pad_id=0, oov_id=1,
           segmenter="dict.txt")

or from a saved state_dict (torch.save(model.state_dict(), "m.pt")):

    python3 scripts/export_torch.py m.pt --arch bilstm --vocab words.txt \
        --labels neg,pos --head binary -o news.safetensors

The state_dict may also be a dict of numpy arrays (export_state_dict()),
which is how the repository tests this script without installing torch.
words.txt: one word per line, in embedding-row order starting at row
vocab_offset.
"""
import argparse
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from klabel_export import write_model  # noqa: E402


def to_numpy(t):
    if hasattr(t, "detach"):
        t = t.detach().cpu().float().numpy()
    return np.asarray(t, dtype=np.float32)


def export_state_dict(sd, path, words, labels, arch=None, **kw):
    """sd: {name: tensor or ndarray} (a module's state_dict). Keeps the
    tensors klabel reads, infers the sizes, writes path."""
    sd = {k[len("module."):] if k.startswith("module.") else k: to_numpy(v)
          for k, v in sd.items()}
    if arch is None:
        arch = "bilstm" if any(k.startswith("lstm.") for k in sd) else "textcnn"
    keep = {"embedding.weight", "fc.weight", "fc.bias"}
    if arch == "bilstm":
        keep |= {k for k in sd if re.fullmatch(
            r"lstm\.(weight|bias)_(ih|hh)_l\d+(_reverse)?", k)}
        layers = 1 + max(int(re.search(r"_l(\d+)", k).group(1))
                         for k in keep if k.startswith("lstm."))
        hidden = sd["lstm.weight_hh_l0"].shape[1]
        if "lstm.weight_ih_l0_reverse" not in sd:
            raise ValueError("the LSTM must be bidirectional")
        for l in range(layers):  # nn.LSTM(bias=False) has no biases
            for sfx in ("", "_reverse"):
                for b in ("ih", "hh"):
                    name = "lstm.bias_%s_l%d%s" % (b, l, sfx)
                    if name not in sd:
                        sd[name] = np.zeros(4 * hidden, np.float32)
                        keep.add(name)
        kw.update(hidden=hidden, layers=layers)
    else:
        convs = sorted(int(m.group(1)) for m in
                       (re.fullmatch(r"convs\.(\d+)\.weight", k) for k in sd)
                       if m)
        keep |= {"convs.%d.weight" % j for j in convs}
        keep |= {"convs.%d.bias" % j for j in convs}
        kw.update(widths=[sd["convs.%d.weight" % j].shape[2] for j in convs],
                  channels=sd["convs.0.weight"].shape[0])
    missing = [k for k in keep if k not in sd]
    if missing:
        raise ValueError("state_dict lacks " + ", ".join(sorted(missing)))
    write_model(path, arch, {k: sd[k] for k in sorted(keep)}, words, labels,
                source="pytorch", **kw)


def export(model, path, words, labels, **kw):
    """A torch.nn.Module with the attributes above -> path."""
    export_state_dict(model.state_dict(), path, words, labels, **kw)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("state_dict", help="torch.save(model.state_dict()) file")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--arch", choices=("bilstm", "textcnn"))
    ap.add_argument("--vocab", required=True, help="words, one per line")
    ap.add_argument("--labels", required=True, help="comma-separated")
    ap.add_argument("--head", default="softmax",
                    choices=("softmax", "sigmoid", "binary"))
    ap.add_argument("--pool", default="last", choices=("last", "max"))
    ap.add_argument("--vocab-offset", type=int, default=2)
    ap.add_argument("--pad-id", type=int, default=0)
    ap.add_argument("--oov-id", type=int, default=1)
    ap.add_argument("--max-len", type=int, default=100)
    ap.add_argument("--padding", default="none",
                    choices=("none", "pre", "post"))
    ap.add_argument("--tokenizer", default="unicode",
                    choices=("unicode", "fasttext"))
    ap.add_argument("--segmenter", help="jieba dict.txt to embed")
    ap.add_argument("--id", default="model")
    ap.add_argument("--version", default="1")
    a = ap.parse_args()
    import torch  # only for loading the file
    sd = torch.load(a.state_dict, map_location="cpu")
    with open(a.vocab, encoding="utf-8") as f:
        words = [l.rstrip("\n") for l in f if l.strip()]
    kw = dict(head=a.head, vocab_offset=a.vocab_offset, pad_id=a.pad_id,
              oov_id=a.oov_id, max_len=a.max_len, padding=a.padding,
              tokenizer=a.tokenizer, segmenter=a.segmenter, model_id=a.id,
              version=a.version)
    if (a.arch or "") != "textcnn":
        kw["pool"] = a.pool
    export_state_dict(sd, a.output, words, a.labels.split(","), a.arch, **kw)


if __name__ == "__main__":
    main()
