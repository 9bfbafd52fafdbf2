#!/usr/bin/env python3
"""ck_fasttext.py: the Python stage a user would otherwise write, for the
side-by-side benchmark (system "c" of tests/bench/stage_bench.py):
confluent-kafka's Consumer batching with consume(num_messages=N,
timeout=T), fastText 0.9.2's predict on the whole batch (text tokenized as
the model's training text was: peers/unitok.py), JSON results keyed like
the input with the input headers carried over, at-least-once: offsets are
stored (enable.auto.offset.store=false, auto-committed) only once every
result of a batch and of every batch before it has been delivered. A
failed delivery stops the stage with exit code 1; undecodable input goes
to the dead-letter topic.

Result: {"id":..,"label":..,"score":..,"source":{"topic","partition",
"offset"},"ts":..} (klabel's shape with top.k=1, without "model").

--trace adds headers bench.c_us (when consume() returned the record) and
bench.p_us (just before produce()) in CLOCK_REALTIME microseconds, the
same two moments the interceptor tests/bench/load/kl_trace_ic.c stamps in
klabel. SIGTERM/SIGINT: finish the batch, flush, commit, exit 0."""
import argparse
import collections
import json
import os
import signal
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
import fasttext

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from unitok import tokenize  # noqa: E402

PREFIX = len("__label__")


class Batch:
    """The input offsets of one batch and how many results are undelivered."""

    def __init__(self):
        self.left = 0
        self.next = {}     # (topic, partition) -> next offset to commit
        self.failed = None

    def delivered(self, err, msg):
        if err is not None and self.failed is None:
            self.failed = f"delivery to {msg.topic()} failed: {err}"
        self.left -= 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("--dlq", default=None)
    ap.add_argument("--group", required=True)
    ap.add_argument("--model", required=True, help="fastText .bin")
    ap.add_argument("--batch", type=int, default=256, help="consume(num_messages=)")
    ap.add_argument("--timeout-ms", type=float, default=1.0, help="consume(timeout=) in ms")
    ap.add_argument("--trace", action="store_true")
    a = ap.parse_args()

    model = fasttext.load_model(a.model)
    consumer = Consumer({
        "bootstrap.servers": a.bootstrap,
        "group.id": a.group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": True,
        "enable.auto.offset.store": False,
        "partition.assignment.strategy": "cooperative-sticky",
    })
    producer = Producer({
        "bootstrap.servers": a.bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 1,
    })
    running = [True]

    def stop(signum, frame):
        running[0] = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    consumer.subscribe([a.input])
    pending = collections.deque()
    timeout = a.timeout_ms / 1000.0
    dlq = a.dlq or a.output + "-dlq"
    failed = None

    def store_done():
        # Offsets advance only over batches whose every result is delivered.
        nonlocal failed
        while pending and pending[0].left == 0:
            b = pending.popleft()
            if b.failed:
                failed = b.failed
                return
            if b.next:
                consumer.store_offsets(offsets=[TopicPartition(t, p, o) for (t, p), o in b.next.items()])

    while running[0] and failed is None:
        msgs = consumer.consume(num_messages=a.batch, timeout=timeout)
        producer.poll(0)
        store_done()
        if not msgs:
            continue
        t_c = time.time_ns() // 1000
        b = Batch()
        events, texts = [], []
        for m in msgs:
            if m.error():
                continue
            b.next[(m.topic(), m.partition())] = m.offset() + 1
            try:
                ev = json.loads(m.value())
                texts.append(tokenize(ev["text"]))
                events.append((m, ev))
            except (ValueError, KeyError, TypeError) as e:
                b.left += 1
                producer.produce(dlq, key=m.key(), value=m.value(), headers=(m.headers() or []) +
                                 [("error.class", "malformed"), ("error.reason", str(e)[:200])],
                                 on_delivery=b.delivered)
        if texts:
            labels, probs = model.predict(texts, k=1)
            for (m, ev), lab, prob in zip(events, labels, probs):
                out = {"id": ev.get("id"), "label": lab[0][PREFIX:] if len(lab) else None,
                       "score": round(float(prob[0]), 6) if len(prob) else 0,
                       "source": {"topic": m.topic(), "partition": m.partition(), "offset": m.offset()},
                       "ts": ev.get("ts")}
                headers = m.headers() or []
                if a.trace:
                    headers = headers + [("bench.c_us", str(t_c)),
                                         ("bench.p_us", str(time.time_ns() // 1000))]
                b.left += 1
                while True:
                    try:
                        producer.produce(a.output, key=m.key(), value=json.dumps(out, ensure_ascii=False),
                                         headers=headers, on_delivery=b.delivered)
                        break
                    except BufferError:
                        producer.poll(0.05)
        pending.append(b)
    producer.flush(10)
    store_done()
    try:
        consumer.commit(asynchronous=False)
    except KafkaException:
        pass
    consumer.close()
    if failed:
        print(f"ck_fasttext: stopping: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
