#!/usr/bin/env python3
"""stage_check.py: checks for the stage-core integration tests (t_stage.sh)
on what Kafka's console consumer printed from the stage's output topic with
print.partition=true and print.key=true ("Partition:P<TAB>key<TAB>json" per
line, in consumption order: each partition's records in offset order).

  order    every result of input partition p sits in output partition p
           (output.partition=same) with strictly increasing source offsets;
           every id of --events (or 1..N with --ids N) appears
           (--exactly-once: exactly once)
  routing  --route KIND=MODEL_ID ...: the result of an event of kind KIND
           names model MODEL_ID; --events FILE (key<TAB>json) gives kinds
  ids      every id of --events appears at least once

Prints a one-line summary; exits 1 on failure."""
import argparse
import collections
import json
import sys


def read(path):
    recs = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            parts = line.split("\t", 2)
            if len(parts) != 3 or not parts[0].startswith("Partition:"):
                sys.exit(f"stage_check: {path}:{n}: not Partition:P<TAB>key<TAB>value: {line[:120]}")
            try:
                doc = json.loads(parts[2])
            except ValueError as e:
                sys.exit(f"stage_check: {path}:{n}: bad JSON: {e}")
            recs.append((int(parts[0][len("Partition:"):]), parts[1], doc))
    return recs


def events(path):
    ev = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            key, value = line.rstrip("\n").split("\t", 1)
            doc = json.loads(value)
            ev[int(doc["id"])] = doc
    return ev


def check_ids(recs, want, exactly):
    seen = collections.Counter(int(doc["id"]) for _, _, doc in recs)
    missing = [i for i in want if seen[i] == 0]
    if missing:
        sys.exit(f"stage_check: {len(missing)} id(s) missing, e.g. {missing[:5]}")
    extra = [i for i in seen if i not in want]
    if extra:
        sys.exit(f"stage_check: {len(extra)} unexpected id(s), e.g. {extra[:5]}")
    if exactly:
        dup = [i for i, c in seen.items() if c > 1]
        if dup:
            sys.exit(f"stage_check: {len(dup)} id(s) more than once, e.g. {dup[:5]}")
    return len(seen)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["order", "routing", "ids"])
    ap.add_argument("results")
    ap.add_argument("--ids", type=int, default=0)
    ap.add_argument("--exactly-once", action="store_true")
    ap.add_argument("--events")
    ap.add_argument("--route", action="append", default=[])
    a = ap.parse_args()
    recs = read(a.results)

    if a.mode == "order":
        last = {}
        for p, key, doc in recs:
            src = doc.get("source") or {}
            sp, so = src.get("partition"), src.get("offset")
            if sp != p:
                sys.exit(f"stage_check: id {doc.get('id')} of input partition {sp} in output partition {p}")
            if so <= last.get(p, -1):
                sys.exit(f"stage_check: partition {p}: offset {so} after {last[p]} (id {doc.get('id')})")
            last[p] = so
        if a.events:
            n = check_ids(recs, set(events(a.events)), a.exactly_once)
        elif a.ids:
            n = check_ids(recs, set(range(1, a.ids + 1)), a.exactly_once)
        else:
            n = len(recs)
        print(f"stage_check order: {len(recs)} results in {len(last)} partitions, offsets increasing; {n} ids")
    elif a.mode == "routing":
        ev = events(a.events)
        route = dict(r.split("=", 1) for r in a.route)
        per = collections.Counter()
        for _, _, doc in recs:
            i = int(doc["id"])
            kind = ev[i].get("kind")
            want = route.get(kind)
            got = (doc.get("model") or {}).get("id")
            if want is None:
                sys.exit(f"stage_check: id {i} of kind {kind} has no route but was labeled by {got}")
            if got != want:
                sys.exit(f"stage_check: id {i} of kind {kind}: model {got}, want {want}")
            per[got] += 1
        routed = {i for i, d in ev.items() if d.get("kind") in route}
        check_ids(recs, routed, False)
        print(f"stage_check routing: {dict(per)}")
    else:
        ev = events(a.events)
        n = check_ids(recs, set(ev), False)
        print(f"stage_check ids: {n} distinct ids of {len(ev)}, {len(recs)} results")


if __name__ == "__main__":
    main()
