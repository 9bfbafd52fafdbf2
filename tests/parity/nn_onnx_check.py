#!/usr/bin/env python3
"""nn_onnx_check.py: klabel's bilstm and textcnn against onnxruntime.

For each case a klabel model file (safetensors, layout of
docs/model-format.md) is either written here from random weights (numpy,
seeded) or trained by `klabel train --arch ...` on THUCNews headlines.
The same weights are then built into an ONNX graph with onnx.helper from
the standard operators (Gather, LSTM with sequence_lens, Conv, Relu,
ReduceMax, Gemm) and run with onnxruntime; klabel's outputs come from
nn_dump (tests/parity/nn_dump.c), which runs each case's sequences as ONE
batch of mixed lengths through the engine. A case passes when every
logit and every label probability agree within --tol (default 1e-4).
Ends with the plain line `nn-onnx: N passed, N failed`.

Usage (from the repository root):
    PY=$(bash tests/ref/venv.sh)
    $PY tests/parity/nn_onnx_check.py --klabel build/klabel \
        --dump build/nn_dump --data .cache/data/thucnews.tsv \
        --dict .cache/data/jieba-dict.txt --work build/parity-nn
"""
import argparse
import json
import os
import struct
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "scripts"))


# ---------------------------------------------------------------- files

def write_safetensors(path, tensors, meta):
    """tensors: list of (name, np.ndarray float32 or uint8); F32 first."""
    header, blobs, off = {}, [], 0
    for name, a in tensors:
        a = np.ascontiguousarray(a)
        dt = {np.dtype(np.float32): "F32", np.dtype(np.uint8): "U8"}[a.dtype]
        b = a.tobytes()
        header[name] = {"dtype": dt, "shape": list(a.shape),
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"klabel": json.dumps(meta)}
    h = json.dumps(header).encode("utf-8")
    h += b" " * ((-(8 + len(h))) % 64)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(path + ".tmp", path)


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    meta = json.loads(header.pop("__metadata__")["klabel"])
    out = {}
    for name, t in header.items():
        a, b = t["data_offsets"]
        raw = data[8 + n + a:8 + n + b]
        if t["dtype"] == "F32":
            out[name] = np.frombuffer(raw, dtype="<f4").reshape(t["shape"])
        else:
            out[name] = np.frombuffer(raw, dtype=np.uint8)
    return out, meta


def random_model(path, arch, rng, nlabels=3, head="softmax", layers=1,
                 pool="last", hidden=8, dim=6, nwords=40, widths=(2, 3, 5),
                 channels=7, pad_id=0, oov_id=1):
    """A model file with random weights (scale 0.5: the gates saturate
    now and then, as trained ones do)."""
    rows = 2 + nwords
    t = [("embedding.weight", rng.uniform(-1, 1, (rows, dim)))]
    if arch == "bilstm":
        for l in range(layers):
            inw = dim if l == 0 else 2 * hidden
            for sfx in ("", "_reverse"):
                t += [("lstm.weight_ih_l%d%s" % (l, sfx),
                       rng.uniform(-.5, .5, (4 * hidden, inw))),
                      ("lstm.weight_hh_l%d%s" % (l, sfx),
                       rng.uniform(-.5, .5, (4 * hidden, hidden))),
                      ("lstm.bias_ih_l%d%s" % (l, sfx),
                       rng.uniform(-.5, .5, (4 * hidden,))),
                      ("lstm.bias_hh_l%d%s" % (l, sfx),
                       rng.uniform(-.5, .5, (4 * hidden,)))]
        feat = 2 * hidden
    else:
        for j, k in enumerate(widths):
            t += [("convs.%d.weight" % j, rng.uniform(-.5, .5,
                                                     (channels, dim, k))),
                  ("convs.%d.bias" % j, rng.uniform(-.5, .5, (channels,)))]
        feat = channels * len(widths)
    nout = 1 if head == "binary" else nlabels
    t += [("fc.weight", rng.uniform(-.5, .5, (nout, feat))),
          ("fc.bias", rng.uniform(-.5, .5, (nout,)))]
    t = [(n, a.astype(np.float32)) for n, a in t]
    vocab = b"".join(b"w%d\0" % i for i in range(nwords))
    t.append(("vocab", np.frombuffer(vocab, dtype=np.uint8)))
    nn = {"rows": rows, "vocab_offset": 2, "pad_id": pad_id,
          "oov_id": oov_id, "max_len": 64, "head": head}
    if arch == "bilstm":
        nn["lstm"] = {"hidden": hidden, "layers": layers, "pool": pool}
    else:
        nn["conv"] = {"widths": list(widths), "channels": channels}
    meta = {"format": 1, "architecture": arch, "id": "rand", "version": "1",
            "loss": "softmax" if head == "softmax" else "ova", "dim": dim,
            "nwords": nwords, "bucket": 0,
            "labels": ["l%d" % i for i in range(nlabels)],
            "tokenizer": {"mode": "unicode"}, "nn": nn}
    write_safetensors(path, t, meta)


# ----------------------------------------------------------- ONNX graphs

def init(name, a):
    return numpy_helper.from_array(np.ascontiguousarray(a), name)


def ifgo_to_iofc(w, h):
    """PyTorch gate blocks (i, f, g, o) along axis 0 -> ONNX (i, o, f, c)."""
    i, f, g, o = (w[q * h:(q + 1) * h] for q in range(4))
    return np.concatenate([i, o, f, g], axis=0)


def bilstm_graph(w, meta):
    nn = meta["nn"]
    H, L = nn["lstm"]["hidden"], nn["lstm"].get("layers", 1)
    pool = nn["lstm"].get("pool", "last")
    nodes, inits = [], [init("emb", w["embedding.weight"])]
    nodes.append(helper.make_node("Gather", ["emb", "ids"], ["x0"], axis=0))
    x = "x0"  # (T, B, in)
    for l in range(L):
        W, R, Bs = [], [], []
        for sfx in ("", "_reverse"):
            W.append(ifgo_to_iofc(w["lstm.weight_ih_l%d%s" % (l, sfx)], H))
            R.append(ifgo_to_iofc(w["lstm.weight_hh_l%d%s" % (l, sfx)], H))
            Bs.append(np.concatenate([
                ifgo_to_iofc(w["lstm.bias_ih_l%d%s" % (l, sfx)], H),
                ifgo_to_iofc(w["lstm.bias_hh_l%d%s" % (l, sfx)], H)]))
        inits += [init("W%d" % l, np.stack(W)), init("R%d" % l, np.stack(R)),
                  init("B%d" % l, np.stack(Bs))]
        nodes.append(helper.make_node(
            "LSTM", [x, "W%d" % l, "R%d" % l, "B%d" % l, "lens"],
            ["Y%d" % l, "Yh%d" % l, ""], direction="bidirectional",
            hidden_size=H))
        # Y (T, 2, B, H) -> (T, B, 2H)
        nodes.append(helper.make_node("Transpose", ["Y%d" % l], ["Yt%d" % l],
                                      perm=[0, 2, 1, 3]))
        nodes.append(helper.make_node("Reshape", ["Yt%d" % l, "shape3"],
                                      ["x%d" % (l + 1)]))
        x = "x%d" % (l + 1)
    inits.append(init("shape3", np.array([0, 0, 2 * H], dtype=np.int64)))
    last = L - 1
    if pool == "last":
        inits.append(init("shape2", np.array([0, 2 * H], dtype=np.int64)))
        nodes.append(helper.make_node("Transpose", ["Yh%d" % last], ["Yht"],
                                      perm=[1, 0, 2]))
        nodes.append(helper.make_node("Reshape", ["Yht", "shape2"], ["feat"]))
    else:
        nodes.append(helper.make_node("Add", [x, "mask"], ["xm"]))
        nodes.append(helper.make_node("ReduceMax", ["xm"], ["feat"], axes=[0],
                                      keepdims=0))  # opset 17: axes attr
    inputs = [helper.make_tensor_value_info("ids", TensorProto.INT64,
                                            ["T", "B"]),
              helper.make_tensor_value_info("lens", TensorProto.INT32, ["B"])]
    if pool != "last":
        inputs.append(helper.make_tensor_value_info("mask", TensorProto.FLOAT,
                                                    ["T", "B", 1]))
    return head_graph(nodes, inits, inputs, w)


def textcnn_graph(w, meta):
    nn = meta["nn"]
    widths = nn["conv"]["widths"]
    emb = w["embedding.weight"]
    # a zero row after the table stands for "no pad row" (pad_id -1)
    emb = np.concatenate([emb, np.zeros((1, emb.shape[1]), np.float32)])
    nodes, inits = [], [init("emb", emb)]
    nodes.append(helper.make_node("Gather", ["emb", "ids"], ["x"], axis=0))
    nodes.append(helper.make_node("Transpose", ["x"], ["xt"], perm=[0, 2, 1]))
    outs = []
    inputs = [helper.make_tensor_value_info("ids", TensorProto.INT64,
                                            ["B", "L"])]
    for j, k in enumerate(widths):
        inits += [init("cw%d" % j, w["convs.%d.weight" % j]),
                  init("cb%d" % j, w["convs.%d.bias" % j])]
        nodes += [
            helper.make_node("Conv", ["xt", "cw%d" % j, "cb%d" % j],
                             ["c%d" % j], kernel_shape=[k]),
            helper.make_node("Add", ["c%d" % j, "m%d" % j], ["cm%d" % j]),
            helper.make_node("Relu", ["cm%d" % j], ["r%d" % j]),
            helper.make_node("ReduceMax", ["r%d" % j], ["p%d" % j], axes=[2],
                             keepdims=0)]
        inputs.append(helper.make_tensor_value_info(
            "m%d" % j, TensorProto.FLOAT, ["B", 1, "W%d" % j]))
        outs.append("p%d" % j)
    nodes.append(helper.make_node("Concat", outs, ["feat"], axis=1))
    return head_graph(nodes, inits, inputs, w)


def head_graph(nodes, inits, inputs, w):
    inits += [init("fcw", w["fc.weight"]), init("fcb", w["fc.bias"])]
    nodes.append(helper.make_node("Gemm", ["feat", "fcw", "fcb"], ["logits"],
                                  transB=1))
    out = [helper.make_tensor_value_info("logits", TensorProto.FLOAT,
                                         ["B", "O"])]
    g = helper.make_graph(nodes, "klabel_nn", inputs, out, inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("",
                                                                    OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), so,
                                providers=["CPUExecutionProvider"])


def onnx_logits(sess, w, meta, seqs):
    nn = meta["nn"]
    B = len(seqs)
    if meta["architecture"] == "bilstm":
        T = max(len(s) for s in seqs)
        ids = np.zeros((T, B), np.int64)
        mask = np.full((T, B, 1), -1e9, np.float32)
        for b, s in enumerate(seqs):
            ids[:len(s), b] = s
            mask[:len(s), b, 0] = 0
        feed = {"ids": ids, "lens": np.array([len(s) for s in seqs],
                                             np.int32)}
        if nn["lstm"].get("pool", "last") != "last":
            feed["mask"] = mask
        return sess.run(["logits"], feed)[0]
    widths = nn["conv"]["widths"]
    kmax = max(widths)
    zero = w["embedding.weight"].shape[0]  # the appended zero row
    pad = nn.get("pad_id", 0)
    pad = zero if pad < 0 else pad
    padded = [list(s) + [pad] * max(0, kmax - len(s)) for s in seqs]
    L = max(len(s) for s in padded)
    ids = np.full((B, L), zero, np.int64)
    for b, s in enumerate(padded):
        ids[b, :len(s)] = s
    feed = {"ids": ids}
    for j, k in enumerate(widths):
        m = np.full((B, 1, L - k + 1), -1e9, np.float32)
        for b, s in enumerate(padded):
            m[b, 0, :len(s) - k + 1] = 0
        feed["m%d" % j] = m
    return sess.run(["logits"], feed)[0]


def probs_of(meta, z):
    head = meta["nn"].get("head", "softmax")
    z = z.astype(np.float64)
    if head == "binary":
        p1 = 1 / (1 + np.exp(-z[:, 0]))
        return np.stack([1 - p1, p1], axis=1)
    if head == "sigmoid":
        return 1 / (1 + np.exp(-z))
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# ----------------------------------------------------------------- cases

def run_dump(dump, model, lines, ids):
    p = subprocess.run([dump, model] + (["--ids"] if ids else []),
                       input="".join(l + "\n" for l in lines).encode("utf-8"),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise RuntimeError("nn_dump failed: " + p.stderr.decode())
    return [json.loads(l) for l in p.stdout.decode().splitlines()]


def check(name, dump, model, lines, ids, tol, ref=None):
    """ref: (session, weights, metadata) of an ONNX reference built
    elsewhere; by default one is built from the model file's tensors."""
    if ref is None:
        w, meta = read_safetensors(model)
        sess = (bilstm_graph if meta["architecture"] == "bilstm"
                else textcnn_graph)(w, meta)
    else:
        sess, w, meta = ref
    got = run_dump(dump, model, lines, ids)
    rows = [g for g in got if g["ids"]]  # texts without tokens: no output
    seqs = [g["ids"] for g in rows]
    ours = np.array([g["logits"] for g in rows], np.float64)
    theirs = onnx_logits(sess, w, meta, seqs).astype(np.float64)
    nl = len(meta["labels"])
    p_ours = np.array([g["probs"][:nl] for g in rows], np.float64)
    p_ref = probs_of(meta, theirs)
    dz = float(np.abs(ours - theirs).max())
    dp = float(np.abs(p_ours - p_ref).max())
    lens = [len(s) for s in seqs]
    ok = dz <= tol and dp <= tol
    print("%-34s %4d texts, lengths %d..%d: max |dlogit| %.2e, max |dprob| "
          "%.2e  %s" % (name, len(seqs), min(lens), max(lens), dz, dp,
                        "ok" if ok else "FAIL"))
    return ok


def export_torch_case(name, a, rng):
    """A PyTorch-style state_dict (numpy arrays standing in for tensors,
    with DataParallel's "module." prefix and nn.LSTM(bias=False) biases
    missing) through scripts/export_torch.py."""
    import export_torch
    H, E, V = 6, 5, 30
    sd = {"module.embedding.weight": rng.uniform(-1, 1, (V + 2, E))}
    for sfx in ("", "_reverse"):
        sd["module.lstm.weight_ih_l0" + sfx] = rng.uniform(-.5, .5, (4 * H, E))
        sd["module.lstm.weight_hh_l0" + sfx] = rng.uniform(-.5, .5, (4 * H, H))
    sd["module.fc.weight"] = rng.uniform(-.5, .5, (3, 2 * H))
    sd["module.fc.bias"] = rng.uniform(-.5, .5, (3,))
    path = os.path.join(a.work, "export_torch.safetensors")
    export_torch.export_state_dict(sd, path, ["w%d" % i for i in range(V)],
                                   ["a", "b", "c"], pool="max")
    lines = random_seqs(rng, 30, V + 2, 1, 25)
    return check(name, a.dump, path, lines, True, a.tol)


def export_keras_case(name, a, rng):
    """Keras-layout weights through scripts/export_keras.py; the ONNX
    reference is built from the Keras arrays directly (its own transposes
    and gate reordering), not from the exported file."""
    import export_keras
    H, E, V = 5, 4, 25
    emb = rng.uniform(-1, 1, (V + 1, E)).astype(np.float32)
    fw = [rng.uniform(-.5, .5, s).astype(np.float32)
          for s in ((E, 4 * H), (H, 4 * H), (4 * H,))]
    bw = [rng.uniform(-.5, .5, s).astype(np.float32)
          for s in ((E, 4 * H), (H, 4 * H), (4 * H,))]
    dk = rng.uniform(-.5, .5, (2 * H, 1)).astype(np.float32)
    db = rng.uniform(-.5, .5, (1,)).astype(np.float32)
    layers = [{"type": "Embedding", "config": {}, "weights": [emb]},
              {"type": "Bidirectional", "config": {}, "weights": fw + bw},
              {"type": "Dense", "config": {}, "weights": [dk, db]}]
    path = os.path.join(a.work, "export_keras.safetensors")
    export_keras.export_layers(layers, path, ["w%d" % i for i in range(V)],
                               ["economy", "politics"], head="binary",
                               vocab_offset=1, oov_id=-1, pad_id=0)
    # reference straight from the Keras arrays: i, f, c, o -> ONNX i, o, f, c
    def iofc(m):
        i, f, c, o = np.split(m, 4, axis=0)
        return np.concatenate([i, o, f, c])
    w = {"embedding.weight": emb}
    W = np.stack([iofc(fw[0].T), iofc(bw[0].T)])
    R = np.stack([iofc(fw[1].T), iofc(bw[1].T)])
    B = np.stack([np.concatenate([iofc(fw[2]), np.zeros(4 * H, np.float32)]),
                  np.concatenate([iofc(bw[2]), np.zeros(4 * H, np.float32)])])
    nodes = [helper.make_node("Gather", ["emb", "ids"], ["x"], axis=0),
             helper.make_node("LSTM", ["x", "W", "R", "B", "lens"],
                              ["Y", "Yh", ""], direction="bidirectional",
                              hidden_size=H),
             helper.make_node("Transpose", ["Yh"], ["Yht"], perm=[1, 0, 2]),
             helper.make_node("Reshape", ["Yht", "shape2"], ["feat"])]
    inits = [init("emb", emb), init("W", W), init("R", R), init("B", B),
             init("shape2", np.array([0, 2 * H], np.int64))]
    inputs = [helper.make_tensor_value_info("ids", TensorProto.INT64,
                                            ["T", "B"]),
              helper.make_tensor_value_info("lens", TensorProto.INT32, ["B"])]
    sess = head_graph(nodes, inits, inputs, {"fc.weight": dk.T.copy(),
                                             "fc.bias": db})
    meta = {"architecture": "bilstm",
            "nn": {"lstm": {"hidden": H, "pool": "last"}, "head": "binary"},
            "labels": ["economy", "politics"]}
    lines = random_seqs(rng, 30, V + 1, 1, 25)
    return check(name, a.dump, path, lines, True, a.tol, ref=(sess, w, meta))


def export_keras_cnn_case(name, a, rng):
    """A Keras TextCNN on pad_sequences input (padding and truncating
    "pre", maxlen 12): texts go through klabel's featurizer, whose ids must
    be the Keras sequence (unknown words dropped, zeros in front)."""
    import export_keras
    E, V, C = 4, 20, 3
    emb = rng.uniform(-1, 1, (V + 1, E)).astype(np.float32)
    convs = [[rng.uniform(-.5, .5, (k, E, C)).astype(np.float32),
              rng.uniform(-.5, .5, (C,)).astype(np.float32)] for k in (2, 3)]
    layers = [{"type": "Embedding", "config": {}, "weights": [emb]}] + \
        [{"type": "Conv1D", "config": {}, "weights": c} for c in convs] + \
        [{"type": "Dense", "config": {}, "weights": [
            rng.uniform(-.5, .5, (2 * C, 3)).astype(np.float32),
            rng.uniform(-.5, .5, (3,)).astype(np.float32)]}]
    words = ["w%d" % i for i in range(V)]
    path = os.path.join(a.work, "export_keras_cnn.safetensors")
    export_keras.export_layers(layers, path, words, ["a", "b", "c"],
                               head="softmax", vocab_offset=1, oov_id=-1,
                               pad_id=0, max_len=12, padding="pre",
                               truncating="pre")
    texts, want = [], []
    for _ in range(25):
        toks = [int(x) for x in rng.integers(-3, V, rng.integers(1, 18))]
        texts.append(" ".join("w%d" % t if t >= 0 else "zz%d" % -t
                              for t in toks))
        ids = [1 + t for t in toks if t >= 0][-12:]  # Keras: truncating pre
        want.append([0] * (12 - len(ids)) + ids if ids else [])
    got = [g["ids"] for g in run_dump(a.dump, path, texts, False)]
    if got != want:
        bad = next(i for i in range(len(want)) if got[i] != want[i])
        print("%s: FAIL (ids of %r: %s, Keras would give %s)"
              % (name, texts[bad], got[bad], want[bad]))
        return False
    return check(name, a.dump, path, texts, False, a.tol)


def random_seqs(rng, n, rows, lo, hi):
    return [" ".join(str(int(x)) for x in rng.integers(0, rows,
                                                        rng.integers(lo, hi + 1)))
            for _ in range(n)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--klabel", default="build/klabel")
    ap.add_argument("--dump", default="build/nn_dump")
    ap.add_argument("--data", default=".cache/data/thucnews.tsv")
    ap.add_argument("--dict", default=".cache/data/jieba-dict.txt")
    ap.add_argument("--work", default="build/parity-nn")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--no-train", action="store_true",
                    help="random weights only")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    ort.set_default_logger_severity(3)
    rng = np.random.default_rng(20240601)
    passed = failed = 0

    def tally(ok):
        nonlocal passed, failed
        passed += ok
        failed += not ok

    random_cases = [
        ("bilstm last softmax", "bilstm", {}),
        ("bilstm max binary", "bilstm", dict(head="binary", nlabels=2,
                                             pool="max")),
        ("bilstm 2 layers last sigmoid", "bilstm", dict(head="sigmoid",
                                                        layers=2)),
        ("bilstm 3 layers max softmax", "bilstm", dict(layers=3, pool="max",
                                                       hidden=5, dim=9)),
        ("textcnn 2,3,5 softmax", "textcnn", {}),
        ("textcnn 1,4 binary no pad row", "textcnn",
         dict(head="binary", nlabels=2, widths=(1, 4), pad_id=-1)),
        ("textcnn 3 sigmoid", "textcnn", dict(head="sigmoid", widths=(3,),
                                              nlabels=4)),
    ]
    random_cases.append(("bilstm long texts", "bilstm", dict(hidden=16,
                                                              dim=12)))
    random_cases.append(("textcnn long texts", "textcnn", dict(dim=12)))
    for name, arch, kw in random_cases:
        path = os.path.join(a.work, name.replace(" ", "_").replace(",", "")
                            + ".safetensors")
        random_model(path, arch, rng, **kw)
        rows = 2 + 40
        hi = 200 if "long" in name else 30
        lines = random_seqs(rng, 37, rows, 1, hi) + ["0", "5 6", ""]
        try:
            tally(check("random " + name, a.dump, path, lines, True, a.tol))
        except Exception as e:  # a crash is a failure, not an abort
            print("random %s: FAIL (%s)" % (name, e))
            tally(False)
    for name, fn in (("export_torch bilstm (numpy state_dict)",
                      export_torch_case),
                     ("export_keras bilstm (numpy weights)", export_keras_case),
                     ("export_keras textcnn padding pre",
                      export_keras_cnn_case)):
        try:
            tally(fn(name, a, rng))
        except Exception as e:
            print("%s: FAIL (%s)" % (name, e))
            tally(False)
    if not a.no_train:
        texts, train = [], []
        with open(a.data, encoding="utf-8") as f:
            for i, line in enumerate(f):
                lab, text = line.rstrip("\n").split("\t", 1)
                if lab in ("politics", "finance", "stocks"):
                    lab = "politics" if lab == "politics" else "finance"
                    (texts if i % 5 == 0 else train).append((lab, text))
        tr = os.path.join(a.work, "bin-train.tsv")
        with open(tr, "w", encoding="utf-8") as f:
            f.writelines("%s\t%s\n" % p for p in train)
        lines = [t for _, t in texts[:300]]
        for arch, extra in (("bilstm", ["--pool", "max", "--layers", "2"]),
                            ("bilstm", []), ("textcnn", [])):
            path = os.path.join(a.work, "trained-%s%s.safetensors"
                                % (arch, "-max2" if extra else ""))
            cmd = [a.klabel, "train", "-q", "--arch", arch, "-i", tr, "-o",
                   path, "--dim", "64", "--hidden", "32", "--epoch", "2",
                   "--loss", "ova", "--segmenter", a.dict] + extra
            p = subprocess.run(cmd, stderr=subprocess.PIPE)
            if p.returncode != 0:
                print("trained %s: FAIL (klabel train: %s)"
                      % (arch, p.stderr.decode().strip()))
                tally(False)
                continue
            try:
                tally(check("trained %s%s (THUCNews)" % (arch, " ".join(
                    [""] + extra)), a.dump, path, lines, False, a.tol))
            except Exception as e:
                print("trained %s: FAIL (%s)" % (arch, e))
                tally(False)
    print("nn-onnx: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
