#!/usr/bin/env python3
"""verify.py: checks what the stage wrote to its output topic against what
was produced to its input topics. Reads the results as printed by Kafka's
console consumer with print.key=true (key<TAB>json per line), the truth file
of make_events.py (id<TAB>label) and the model's label set (one per line).

Checks: every result is valid JSON with the expected fields; its key equals
the event id; its label is in the label set and its score in [0, 1]; every
input id appears exactly once (--exactly-once) or at least once
(--at-least-once); no id appears that was not produced; accuracy on the
ids given by --heldout (every 5th id by default) is at least --min-accuracy.
Prints a summary and exits 1 on the first class of failure."""
import argparse
import collections
import json
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--truth", required=True)
    ap.add_argument("--labels", required=True)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--exactly-once", action="store_true")
    mode.add_argument("--at-least-once", action="store_true")
    ap.add_argument("--topic", help="expected source topic")
    ap.add_argument("--min-accuracy", type=float, default=0.0)
    ap.add_argument("--heldout-every", type=int, default=5)
    a = ap.parse_args()

    truth = {}
    with open(a.truth, encoding="utf-8") as f:
        for line in f:
            i, label = line.rstrip("\n").split("\t", 1)
            truth[int(i)] = label
    labels = set(l.strip() for l in open(a.labels, encoding="utf-8") if l.strip())
    if not labels:
        sys.exit("verify: empty label set")

    seen = collections.Counter()
    errors = []
    right = total = 0
    nres = 0
    with open(a.results, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            nres += 1
            if "\t" not in line:
                errors.append(f"result {n}: no key separator: {line[:120]}")
                continue
            key, val = line.split("\t", 1)
            try:
                r = json.loads(val)
            except ValueError as e:
                errors.append(f"result {n}: not JSON ({e}): {val[:120]}")
                continue
            for field in ("id", "label", "score", "top", "model", "source"):
                if field not in r:
                    errors.append(f"result {n}: no '{field}': {val[:160]}")
            if errors:
                continue
            rid = r["id"]
            if not isinstance(rid, int):
                errors.append(f"result {n}: id {rid!r} is not the input's integer id")
                continue
            if key != str(rid):
                errors.append(f"result {n}: key {key!r} != id {rid}")
            if r["label"] not in labels:
                errors.append(f"result {n}: label {r['label']!r} not in the model's label set")
            if not (0.0 <= float(r["score"]) <= 1.0):
                errors.append(f"result {n}: score {r['score']} outside [0, 1]")
            src = r["source"]
            if a.topic and src.get("topic") != a.topic:
                errors.append(f"result {n}: source topic {src.get('topic')!r} != {a.topic!r}")
            if not isinstance(src.get("partition"), int) or not isinstance(src.get("offset"), int) \
                    or src["partition"] < 0 or src["offset"] < 0:
                errors.append(f"result {n}: bad source {src!r}")
            if not r["model"].get("id") or not r["model"].get("version"):
                errors.append(f"result {n}: model id/version missing: {r['model']!r}")
            if rid not in truth:
                errors.append(f"result {n}: id {rid} was never produced")
                continue
            seen[rid] += 1
            if seen[rid] == 1 and rid % a.heldout_every == 0:
                total += 1
                right += r["label"] == truth[rid]
            if len(errors) > 20:
                break

    missing = [i for i in truth if seen[i] == 0]
    dups = {i: c for i, c in seen.items() if c > 1}
    if missing:
        errors.append(f"{len(missing)} of {len(truth)} ids have no result (first: {sorted(missing)[:10]})")
    if a.exactly_once and dups:
        errors.append(f"{len(dups)} ids appear more than once (first: {sorted(dups)[:10]})")
    acc = right / total if total else 0.0
    if total == 0:
        errors.append("no held-out results to score")
    elif acc < a.min_accuracy:
        errors.append(f"held-out accuracy {acc:.4f} < {a.min_accuracy}")

    print(f"verify: {nres} results, {len(truth)} ids, {len(truth) - len(missing)} seen, "
          f"{sum(c - 1 for c in dups.values())} duplicates, held-out accuracy {acc:.4f} ({right}/{total})")
    for e in errors[:20]:
        print("verify: FAIL " + e)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
