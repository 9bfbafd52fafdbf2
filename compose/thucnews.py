#!/usr/bin/env python3
"""thucnews.py - data helper of the klabel stack (compose/ and compose/stack.sh).

Two jobs, standard library only (it runs in the Docker `data` stage and on a
developer's machine alike):

  split TSV OUTDIR [--holdout-every K] [--events N] [--bad N] [--ts-base MS]
      Splits the labelled TSV (label<TAB>text, one headline a line) into
        OUTDIR/train.tsv   the lines the model is trained on
        OUTDIR/events.txt  one keyed Kafka record a line, "id<TAB>json", for the
                           console producer (parse.key=true, key.separator=TAB);
                           json = {"id":..,"text":..,"kind":"news","ts":..}
        OUTDIR/truth.tsv   id<TAB>true label of every good event
      Every K-th line (line index % K == 0) is held out as an event, so the
      accuracy printed later is measured on headlines the model never saw.
      --events caps the number of events; --bad appends that many bad
      records (malformed JSON, empty text) that must go to the dead-letter
      topic, not to the output topic.

  score TRUTH RESULTS [--inputs FILE] [--dlq FILE --bad N] [--show 10]
        [--min-accuracy F]
      Joins the labelled results (console consumer output, "key<TAB>value" or
      just "value" lines, value = klabel's JSON result, optionally preceded by
      "CreateTime:<ms><TAB>") with TRUTH on id, prints a few results, the
      count, duplicates and the accuracy. With --inputs (the input topic read
      back the same way, with timestamps) it also prints the latency of each
      event through the stage: result record time - input record time. Exits
      1 when an event has no result, a result is not valid JSON or names
      no label, the accuracy is below --min-accuracy, or (with --dlq) the
      dead-letter topic did not receive exactly --bad records.
"""
import argparse
import json
import os
import re
import sys
import time

# A console-consumer line with print.timestamp=true starts with this.
TS_PREFIX = re.compile(r"^(?:CreateTime|LogAppendTime|NO_TIMESTAMP):(-?\d+)\t")

LABEL_PREFIX = "__label__"


def cmd_split(a):
    with open(a.tsv, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t", 1) for line in f if line.strip()]
    bad_rows = [i for i, r in enumerate(rows) if len(r) != 2 or not r[0] or not r[1]]
    if bad_rows:
        sys.exit(f"thucnews.py: {a.tsv}: line {bad_rows[0] + 1} is not label<TAB>text")
    os.makedirs(a.outdir, exist_ok=True)
    ts0 = a.ts_base if a.ts_base is not None else int(time.time() * 1000)
    n_train = n_events = 0
    with open(os.path.join(a.outdir, "train.tsv"), "w", encoding="utf-8") as train, \
            open(os.path.join(a.outdir, "events.txt"), "w", encoding="utf-8") as events, \
            open(os.path.join(a.outdir, "truth.tsv"), "w", encoding="utf-8") as truth:
        for i, (label, text) in enumerate(rows):
            if i % a.holdout_every != 0:
                train.write(f"{label}\t{text}\n")
                n_train += 1
                continue
            if a.events is not None and n_events >= a.events:
                continue  # beyond the cap: neither trained on nor sent
            ev = {"id": i + 1, "text": text, "kind": "news", "ts": ts0 + n_events}
            events.write(f"{i + 1}\t{json.dumps(ev, ensure_ascii=False)}\n")
            truth.write(f"{i + 1}\t{label}\n")
            n_events += 1
        # Bad input, after the good events: must land on the dead-letter topic.
        bad = [
            ("bad-1", '{"id": "bad-1", "text": "unterminated'),
            ("bad-2", json.dumps({"id": "bad-2", "text": "", "kind": "news", "ts": ts0})),
            ("bad-3", "this is not json at all"),
        ]
        if a.bad > len(bad):
            sys.exit(f"thucnews.py: at most {len(bad)} bad records")
        for key, value in bad[: a.bad]:
            events.write(f"{key}\t{value}\n")
    print(f"split {len(rows)} lines of {a.tsv}: {n_train} to train.tsv, "
          f"{n_events} events (+{a.bad} bad) to events.txt")


def result_label(obj):
    """Top label of one klabel result, without fastText's __label__ prefix."""
    lab = None
    for key in ("label", "labels", "predictions", "top"):
        if key in obj:
            lab = obj[key]
            break
    if isinstance(lab, list):
        lab = lab[0] if lab else None
    if isinstance(lab, dict):
        lab = lab.get("label", lab.get("name"))
    if not isinstance(lab, str) or not lab:
        return None
    return lab[len(LABEL_PREFIX):] if lab.startswith(LABEL_PREFIX) else lab


def result_score(obj):
    for key in ("score", "prob", "probability", "confidence"):
        if isinstance(obj.get(key), (int, float)):
            return float(obj[key])
    for key in ("labels", "predictions", "top"):
        v = obj.get(key)
        if isinstance(v, list) and v and isinstance(v[0], dict):
            for k in ("score", "prob", "probability"):
                if isinstance(v[0].get(k), (int, float)):
                    return float(v[0][k])
    return None


def split_record(line):
    """(timestamp ms or None, key or "", value) of one console-consumer line."""
    ts = None
    m = TS_PREFIX.match(line)
    if m:
        ts, line = int(m.group(1)), line[m.end():]
    key, _, value = line.partition("\t") if "\t" in line else ("", "", line)
    return ts, key, value


def percentile(sorted_xs, q):
    return sorted_xs[min(len(sorted_xs) - 1, int(q * len(sorted_xs)))]


def read_lines(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return [line.rstrip("\n") for line in f if line.strip()]


def cmd_score(a):
    truth = {}
    for line in read_lines(a.truth):
        i, label = line.split("\t", 1)
        truth[i] = label
    texts = {}
    if a.events:
        for line in read_lines(a.events):
            key, value = line.split("\t", 1)
            try:
                texts[key] = json.loads(value).get("text", "")
            except ValueError:
                pass
    problems = []
    got = {}
    out_ts = {}
    dups = 0
    shown = 0
    for n, line in enumerate(read_lines(a.results), 1):
        ts, key, value = split_record(line)
        try:
            obj = json.loads(value)
        except ValueError:
            problems.append(f"result {n} is not JSON: {value[:120]}")
            continue
        rid = obj.get("id", key or None) if isinstance(obj, dict) else None
        label = result_label(obj) if isinstance(obj, dict) else None
        if rid is None or label is None:
            problems.append(f"result {n} names no id or no label: {value[:160]}")
            continue
        rid = str(rid)
        if not got and not dups:
            print(f"first result record: {line[:300]}")
        if key and key != rid:
            problems.append(f"result {n}: record key {key!r} differs from id {rid!r}")
        if rid in got:
            dups += 1
            continue
        got[rid] = label
        if ts is not None:
            out_ts[rid] = ts
        if shown < a.show:
            if shown == 0:
                print("sample of labelled results (id, true label, predicted label, score, text):")
            sc = result_score(obj)
            mark = "ok " if truth.get(rid) == label else "   "
            print(f"  {mark}{rid:>6}  {truth.get(rid, '?'):<13} {label:<13} "
                  f"{'' if sc is None else f'{sc:.3f}':<6} {texts.get(rid, '')[:40]}")
            shown += 1
    unknown = [i for i in got if i not in truth]
    missing = [i for i in truth if i not in got]
    joined = [i for i in got if i in truth]
    correct = sum(1 for i in joined if got[i] == truth[i])
    acc = correct / len(joined) if joined else 0.0
    print(f"results: {len(got)} distinct for {len(truth)} events, {dups} duplicates, "
          f"{len(missing)} missing, {len(unknown)} unknown ids")
    print(f"accuracy: {correct}/{len(joined)} = {acc:.4f} (held-out headlines)")
    if a.inputs:
        in_ts = {}
        for line in read_lines(a.inputs):
            ts, key, _ = split_record(line)
            if ts is not None and key:
                in_ts.setdefault(key, ts)
        lat = sorted(out_ts[i] - in_ts[i] for i in out_ts if i in in_ts)
        if lat:
            print(f"latency through the stage (result record time - input record time, "
                  f"{len(lat)} events): p50 {percentile(lat, 0.50)} ms, p95 {percentile(lat, 0.95)} ms, "
                  f"p99 {percentile(lat, 0.99)} ms, max {lat[-1]} ms")
        else:
            print("latency: no record timestamps to join")
    if missing:
        problems.append(f"{len(missing)} events have no result (first: {missing[:5]})")
    if unknown:
        problems.append(f"{len(unknown)} results for ids that were not sent (first: {unknown[:5]})")
    if a.min_accuracy is not None and joined and acc < a.min_accuracy:
        problems.append(f"accuracy {acc:.4f} is below {a.min_accuracy}")
    if a.dlq is not None:
        dlq = read_lines(a.dlq)
        print(f"dead letters: {len(dlq)} (expected {a.bad})")
        for line in dlq[:5]:
            print(f"  {line[:160]}")
        if len(dlq) != a.bad:
            problems.append(f"{len(dlq)} dead letters, expected {a.bad}")
    for p in problems[:20]:
        print(f"FAIL: {p}")
    return 1 if problems else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("split")
    s.add_argument("tsv")
    s.add_argument("outdir")
    s.add_argument("--holdout-every", type=int, default=5)
    s.add_argument("--events", type=int, default=None)
    s.add_argument("--bad", type=int, default=0)
    s.add_argument("--ts-base", type=int, default=None)
    c = sub.add_parser("score")
    c.add_argument("truth")
    c.add_argument("results")
    c.add_argument("--events", help="events.txt, to show the texts")
    c.add_argument("--inputs", help="the input topic read back with timestamps")
    c.add_argument("--dlq")
    c.add_argument("--bad", type=int, default=0)
    c.add_argument("--show", type=int, default=10)
    c.add_argument("--min-accuracy", type=float, default=None)
    a = p.parse_args()
    if a.cmd == "split":
        if a.holdout_every < 2:
            p.error("--holdout-every must be at least 2")
        cmd_split(a)
        return 0
    return cmd_score(a)


if __name__ == "__main__":
    sys.exit(main())
