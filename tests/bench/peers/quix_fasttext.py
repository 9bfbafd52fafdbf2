#!/usr/bin/env python3
"""quix_fasttext.py: the same stage as ck_fasttext.py written with Quix
Streams (system "d" of tests/bench/stage_bench.py), the way its
documentation builds one: an Application, a JSON input topic, a
StreamingDataFrame whose apply() labels each event with fastText 0.9.2
(text tokenized by peers/unitok.py, as the model's training text was) and
to_topic() writing the result, keyed like the input; Quix carries the
input headers over and commits at-least-once (every commit_interval, after
flushing its producer). Quix processes one record at a time, so fastText
predicts one text per call.

Result: {"id":..,"label":..,"score":..,"source":{"topic","partition",
"offset"},"ts":..}, the same shape as ck_fasttext.py.

--trace adds headers bench.c_us (when the record entered the dataframe)
and bench.p_us (the last step before to_topic), CLOCK_REALTIME µs.
SIGTERM/SIGINT stop the application cleanly (Quix's own handlers)."""
import argparse
import os
import sys
import time

import fasttext
from quixstreams import Application, message_context

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from unitok import tokenize  # noqa: E402

PREFIX = len("__label__")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--model", required=True, help="fastText .bin")
    ap.add_argument("--state-dir", default=None)
    ap.add_argument("--trace", action="store_true")
    a = ap.parse_args()

    model = fasttext.load_model(a.model)
    app = Application(
        broker_address=a.bootstrap,
        consumer_group=a.group,
        auto_offset_reset="earliest",
        processing_guarantee="at-least-once",
        loglevel="WARNING",
        state_dir=a.state_dir or os.path.join(os.getcwd(), "quix-state"),
        producer_extra_config={"linger.ms": 1},
    )
    inp = app.topic(a.input, key_deserializer="bytes", value_deserializer="json")
    out = app.topic(a.output, key_serializer="bytes", value_serializer="json")

    def label(ev):
        labels, probs = model.predict(tokenize(ev["text"]), k=1)
        ctx = message_context()
        return {"id": ev.get("id"), "label": labels[0][PREFIX:] if labels else None,
                "score": round(float(probs[0]), 6) if len(probs) else 0,
                "source": {"topic": ctx.topic, "partition": ctx.partition, "offset": ctx.offset},
                "ts": ev.get("ts")}

    def stamp(name):
        def add(value, key, timestamp, headers):
            return list(headers or []) + [(name, str(time.time_ns() // 1000))]
        return add

    sdf = app.dataframe(inp)
    if a.trace:
        sdf = sdf.set_headers(stamp("bench.c_us"))
    sdf = sdf.apply(label)
    if a.trace:
        sdf = sdf.set_headers(stamp("bench.p_us"))
    sdf.to_topic(out)
    app.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
