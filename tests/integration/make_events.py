#!/usr/bin/env python3
"""make_events.py: turns a labeled TSV (label<TAB>text) into klabel input
events for the integration tests, one "key<TAB>json" line per event (the
form Kafka's console producer reads with parse.key=true), plus a truth file
"id<TAB>label". Ids are the line numbers (1-based) of the TSV; a line
without a tab is an error."""
import argparse
import json
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tsv")
    ap.add_argument("--events", required=True, help="output: key<TAB>json lines")
    ap.add_argument("--truth", required=True, help="output: id<TAB>label lines")
    ap.add_argument("--count", type=int, default=0, help="at most this many events (0 = all)")
    ap.add_argument("--kind", default="news")
    a = ap.parse_args()
    now = int(time.time() * 1000)
    n = 0
    with open(a.tsv, encoding="utf-8") as f, open(a.events, "w", encoding="utf-8") as ev, \
            open(a.truth, "w", encoding="utf-8") as tr:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n").rstrip("\r")
            if not line:
                continue
            if "\t" not in line:
                sys.exit(f"{a.tsv}:{lineno}: no tab between label and text")
            label, text = line.split("\t", 1)
            text = " ".join(text.split())  # no tabs or newlines inside the value
            if not text:
                continue
            doc = {"id": lineno, "text": text, "kind": a.kind, "ts": now}
            ev.write(f"{lineno}\t{json.dumps(doc, ensure_ascii=False)}\n")
            tr.write(f"{lineno}\t{label}\n")
            n += 1
            if a.count and n >= a.count:
                break
    print(n)


if __name__ == "__main__":
    main()
