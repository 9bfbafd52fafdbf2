#!/usr/bin/env python3
"""codec_tool.py: the Python side of tests/integration/t_codecs.sh (runs in
the reference venv: confluent-kafka + fastavro). It writes test inputs that
the console tools cannot (Avro with the Confluent wire format, invalid
UTF-8, null values), produces them, reads results and dead letters back
with their headers, and checks them.

  spec-avro  EVENTS SCHEMA_ID OUT [--count N]       good Avro events
  spec-raw   EVENTS OUT [--count N]                 good raw-text events (key = id)
  spec-dlq   EVENTS {json,avro} SCHEMA_ID OUT [--count N]
  no-text-schema                                    print the schema that avro
                                                    spec-dlq writes under id + 1
                                                    good events with bad ones of
                                                    every kind interleaved
  produce    BOOTSTRAP TOPIC SPEC PLACED            produce SPEC in order; write
                                                    where each record landed
  consume    BOOTSTRAP TOPIC OUT --count N [--timeout S]
                                                    every record with headers as
                                                    JSON lines (value in hex)
  check      SPEC PLACED RESULTS DLQ --format {json,avro} [--topic T]
             [--explain N] [--text] [--schema-id ID] [--min-good-labels L]
                                                    every good event labeled once
                                                    (source = where it landed);
                                                    every bad one dead-lettered
                                                    once with its class, reason,
                                                    original key/value and
                                                    source headers
A SPEC is JSON lines {"key", "value_hex" (absent = null value), "expect":
"ok" or a dead-letter class, "id", "what"}."""
import argparse
import io
import json
import os
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))


def load_schema(name):
    import fastavro
    with open(os.path.join(REPO, "schemas", name), encoding="utf-8") as f:
        return fastavro.parse_schema(json.load(f))


def avro_bytes(schema, rec):
    import fastavro
    b = io.BytesIO()
    fastavro.schemaless_writer(b, schema, rec)
    return b.getvalue()


def frame(sid, datum):
    return b"\x00" + struct.pack(">i", sid) + datum


def read_events(path, count):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            key, val = line.rstrip("\n").split("\t", 1)
            out.append((key, json.loads(val)))
            if count and len(out) >= count:
                break
    return out


def rec(key, value, expect, id_=None, what=""):
    r = {"key": key, "expect": expect, "what": what}
    if value is not None:
        r["value_hex"] = value.hex()
    if id_ is not None:
        r["id"] = str(id_)
    return r


def write_spec(path, recs):
    with open(path, "w", encoding="utf-8") as f:
        for r in recs:
            f.write(json.dumps(r) + "\n")
    print(f"{len(recs)} records ({sum(r['expect'] == 'ok' for r in recs)} good)")


def avro_event(schema, sid, doc, **over):
    d = {"id": str(doc["id"]), "text": doc["text"], "kind": doc.get("kind"), "ts": doc.get("ts")}
    d.update(over)
    return frame(sid, avro_bytes(schema, d))


def zz(n):
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def astr(b):
    return zz(len(b)) + b


def bad_json(doc):
    """(value bytes or None, class, what) for each kind of bad JSON input."""
    i = doc["id"]
    t = doc["text"]
    j = lambda d: json.dumps(d, ensure_ascii=False).encode()
    return [
        (b'{"id": %d, "text": "unterminated' % i, "malformed", "truncated JSON"),
        (b"[1, 2, 3]", "malformed", "top level is an array"),
        (None, "malformed", "a null value (tombstone)"),
        (b'{"id": %d, "text": "caf\xe9 au lait"}' % i, "invalid_utf8", "Latin-1 byte in the text"),
        (j({"id": i, "text": "a\u0000b"}), "invalid_utf8", "a \\u0000 in the text"),
        (j({"id": i, "text": t + " " + "x" * 5000}), "oversize", "value over input.max.bytes"),
        (j({"id": i, "text": " \t\u3000 "}), "empty_text", "white space only"),
        (j({"id": i, "text": ""}), "empty_text", "empty text"),
        (j({"id": i, "body": t}), "missing_text", "no text field"),
        (j({"id": i, "text": 42}), "missing_text", "text is a number"),
        (j({"id": {"x": 1}, "text": t}), "bad_field", "id is an object"),
        (j({"id": i, "text": t, "ts": -5}), "bad_field", "negative ts"),
        (j({"id": i, "text": t, "kind": "sports"}), "no_route", "kind no model serves"),
    ]


# Written under schema id + 1 by spec-dlq avro (t_codecs.sh puts it there).
NO_TEXT_JSON = {"type": "record", "name": "NoText", "namespace": "it",
                "fields": [{"name": "id", "type": "string"}, {"name": "body", "type": "string"}]}
NO_TEXT = None


def bad_avro(schema, sid, doc):
    global NO_TEXT
    import fastavro
    NO_TEXT = NO_TEXT or fastavro.parse_schema(NO_TEXT_JSON)
    i = str(doc["id"])
    t = doc["text"]
    good = avro_bytes(schema, {"id": i, "text": t, "kind": "news", "ts": None})
    return [
        (b"\x01" + struct.pack(">i", sid) + good, "bad_framing", "magic byte 1"),
        (b"\x00\x00", "bad_framing", "shorter than the header"),
        (json.dumps({"id": i, "text": t}).encode(), "bad_framing", "JSON sent to an Avro stage"),
        (frame(sid + 1000, good), "unknown_schema_id", "schema id the registry does not know"),
        (frame(sid + 1, avro_bytes(NO_TEXT, {"id": i, "body": t})), "missing_text",
         "writer schema (id + 1) without a text field"),
        (frame(sid, good[:-3]), "bad_avro", "truncated datum"),
        (frame(sid, good + b"\x00"), "bad_avro", "a trailing byte"),
        (frame(sid, b"\x02" + zz(1 << 40) + b"abc"), "bad_avro", "a string length of 2^40"),
        (frame(sid, b"\x02" + astr(i.encode()) + astr(b"caf\xe9") + b"\x02" + astr(b"news") + b"\x00"),
         "invalid_utf8", "Latin-1 byte in the text"),
        (avro_event(schema, sid, doc, text="  "), "empty_text", "white space only"),
        (avro_event(schema, sid, doc, id="i" * 2000), "bad_field", "id over 1024 bytes"),
        (avro_event(schema, sid, doc, ts=-1), "bad_field", "negative ts"),
        (avro_event(schema, sid, doc, text=t + " " + "x" * 5000), "oversize", "value over input.max.bytes"),
        (avro_event(schema, sid, doc, kind="sports"), "no_route", "kind no model serves"),
    ]


def cmd_spec(a):
    events = read_events(a.events, a.count)
    recs = []
    schema = load_schema("text_event.avsc") if a.cmd in ("spec-avro", "spec-dlq") and \
        (a.cmd == "spec-avro" or a.format == "avro") else None
    if a.cmd == "spec-avro":
        for key, doc in events:
            recs.append(rec(key, avro_event(schema, a.schema_id, doc), "ok", doc["id"]))
    elif a.cmd == "spec-raw":
        for key, doc in events:
            recs.append(rec(key, doc["text"].encode(), "ok", key))
    else:
        bads = []
        for n, (key, doc) in enumerate(events):
            if a.format == "json":
                recs.append(rec(key, json.dumps(doc, ensure_ascii=False).encode(), "ok", doc["id"]))
            else:
                recs.append(rec(key, avro_event(schema, a.schema_id, doc), "ok", doc["id"]))
            if n % 7 == 3:  # a bad one after every 7th good one, kinds in turn
                if not bads:
                    bads = (bad_json(doc) if a.format == "json" else bad_avro(schema, a.schema_id, doc))
                v, cls, what = bads.pop(0)
                recs.append(rec("bad-%d" % n, v, cls, what=what))
    write_spec(a.out, recs)


def cmd_produce(a):
    from confluent_kafka import Producer
    recs = [json.loads(l) for l in open(a.spec, encoding="utf-8")]
    placed = [None] * len(recs)
    p = Producer({"bootstrap.servers": a.bootstrap, "acks": "all", "linger.ms": 5,
                  "enable.idempotence": True})
    errors = []

    def cb(i):
        def done(err, msg):
            if err:
                errors.append(str(err))
            else:
                placed[i] = (msg.partition(), msg.offset(), msg.timestamp()[1])
        return done

    for i, r in enumerate(recs):
        v = bytes.fromhex(r["value_hex"]) if "value_hex" in r else None
        while True:
            try:
                p.produce(a.topic, key=r["key"].encode() if r["key"] is not None else None,
                          value=v, headers=[("trace", ("t-%d" % i).encode())], on_delivery=cb(i))
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    left = p.flush(30)
    if errors or left:
        sys.exit(f"produce: {len(errors)} errors ({errors[:3]}), {left} not delivered")
    with open(a.placed, "w") as f:
        for i, (part, off, ts) in enumerate(placed):
            f.write(f"{i}\t{part}\t{off}\t{ts}\n")
    print(f"produced {len(recs)} records to {a.topic}")


def cmd_consume(a):
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": a.bootstrap, "group.id": "codec-tool-%d" % os.getpid(),
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    md = c.list_topics(a.topic, timeout=10)
    parts = list(md.topics[a.topic].partitions)
    c.assign([TopicPartition(a.topic, p, 0) for p in parts])
    got = []
    deadline = time.time() + a.timeout
    while len(got) < a.count and time.time() < deadline:
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        got.append({"key": m.key().decode("utf-8", "replace") if m.key() is not None else None,
                    "partition": m.partition(), "offset": m.offset(),
                    "value_hex": m.value().hex() if m.value() is not None else None,
                    "headers": {k: (v.decode("utf-8", "replace") if v is not None else None)
                                for k, v in (m.headers() or [])}})
    c.close()
    with open(a.out, "w", encoding="utf-8") as f:
        for g in got:
            f.write(json.dumps(g) + "\n")
    print(f"consumed {len(got)} of {a.count} from {a.topic}")
    if len(got) < a.count:
        sys.exit(1)


def decode_result(fmt, raw, result_schema, want_sid):
    if fmt == "json":
        return json.loads(raw)
    import fastavro
    if want_sid is not None:
        if raw[:1] != b"\x00" or struct.unpack(">i", raw[1:5])[0] != want_sid:
            raise ValueError(f"Confluent header {raw[:5].hex()} != schema id {want_sid}")
        raw = raw[5:]
    return fastavro.schemaless_reader(io.BytesIO(raw), result_schema)


def cmd_check(a):
    recs = [json.loads(l) for l in open(a.spec, encoding="utf-8")]
    placed = [l.rstrip("\n").split("\t") for l in open(a.placed)]
    results = [json.loads(l) for l in open(a.results, encoding="utf-8")]
    dlq = [json.loads(l) for l in open(a.dlq, encoding="utf-8")] if a.dlq != "-" else []
    rs = load_schema("label_result.avsc") if a.format == "avro" else None
    where = {(a.topic, int(p[1]), int(p[2])): (i, int(p[3])) for i, p in enumerate(placed)}
    errors = []
    seen = {}
    nlabel = 0
    for r in results:
        try:
            v = decode_result(a.format, bytes.fromhex(r["value_hex"]), rs, a.schema_id)
        except Exception as e:  # noqa: BLE001 - report any decode failure
            errors.append(f"result not decodable: {e}")
            continue
        src = v.get("source") or {}
        i, _ = where.get((src.get("topic"), src.get("partition"), src.get("offset")), (None, 0))
        if i is None:
            errors.append(f"result with unknown source {src}")
            continue
        s = recs[i]
        if s["expect"] != "ok":
            errors.append(f"bad input #{i} ({s['what']}) was labeled: {v}")
            continue
        seen[i] = seen.get(i, 0) + 1
        if str(v["id"]) != s["id"]:
            errors.append(f"#{i}: id {v['id']!r} != {s['id']!r}")
        if r["key"] != s["key"]:
            errors.append(f"#{i}: key {r['key']!r} != {s['key']!r}")
        if r["headers"].get("trace") != "t-%d" % i:
            errors.append(f"#{i}: input header not carried over: {r['headers']}")
        nlabel += v.get("label") is not None
        if not v.get("model") or not v["model"].get("id"):
            errors.append(f"#{i}: no model id")
        if a.explain:
            x = v.get("explain")
            if not isinstance(x, list) or not (0 < len(x) <= a.explain) or \
                    not all(isinstance(t.get("token"), str) for t in x):
                errors.append(f"#{i}: explain {x!r} is not 1..{a.explain} tokens")
        elif v.get("explain") is not None:
            errors.append(f"#{i}: explain present without output.explain")
        if a.text:
            want_text = bytes.fromhex(s["value_hex"]).decode("utf-8") if a.raw_text else None
            if not isinstance(v.get("text"), str) or (want_text is not None and v["text"] != want_text):
                errors.append(f"#{i}: text {v.get('text')!r} not the input's")
        elif v.get("text") is not None:
            errors.append(f"#{i}: the input text was copied without output.include.text")
        if len(errors) > 20:
            break
    ngood = sum(s["expect"] == "ok" for s in recs)
    missing = [i for i, s in enumerate(recs) if s["expect"] == "ok" and i not in seen]
    dups = [i for i, c in seen.items() if c > 1]
    if missing:
        errors.append(f"{len(missing)} good events have no result (first {missing[:5]})")
    if dups:
        errors.append(f"{len(dups)} good events labeled more than once (first {dups[:5]})")
    if ngood and nlabel < a.min_good_labels * ngood:
        errors.append(f"only {nlabel} of {ngood} results have a label")
    # dead letters
    classes = {}
    dseen = {}
    for d in dlq:
        h = d["headers"]
        for k in ("klabel.error.class", "klabel.error.reason", "klabel.source.topic",
                  "klabel.source.partition", "klabel.source.offset", "klabel.source.timestamp",
                  "klabel.instance"):
            if not h.get(k):
                errors.append(f"dead letter without {k}: {h}")
        try:
            key = (h["klabel.source.topic"], int(h["klabel.source.partition"]),
                   int(h["klabel.source.offset"]))
        except (KeyError, ValueError):
            continue
        i, ts = where.get(key, (None, 0))
        if i is None:
            errors.append(f"dead letter with unknown source {key}")
            continue
        s = recs[i]
        dseen[i] = dseen.get(i, 0) + 1
        if h["klabel.error.class"] != s["expect"]:
            errors.append(f"#{i} ({s['what']}): class {h['klabel.error.class']!r} "
                          f"({h['klabel.error.reason']}), want {s['expect']!r}")
        if str(ts) != h.get("klabel.source.timestamp"):
            errors.append(f"#{i}: source timestamp {h.get('klabel.source.timestamp')} != {ts}")
        if d["key"] != s["key"] or d["value_hex"] != s.get("value_hex"):
            errors.append(f"#{i}: dead letter does not keep the original key/value")
        if h.get("trace") != "t-%d" % i:
            errors.append(f"#{i}: input header not kept in the dead letter")
        if len(h["klabel.error.reason"].encode()) > 256:
            errors.append(f"#{i}: reason longer than 256 bytes")
        classes[s["expect"]] = classes.get(s["expect"], 0) + 1
    bad = [i for i, s in enumerate(recs) if s["expect"] != "ok"]
    for i in bad:
        if dseen.get(i, 0) != 1:
            errors.append(f"bad input #{i} ({recs[i]['what']}, {recs[i]['expect']}) is "
                          f"{dseen.get(i, 0)} times in the DLQ")
    print(f"check: {len(results)} results for {ngood} good events ({nlabel} labeled), "
          f"{len(dlq)} dead letters for {len(bad)} bad inputs; classes {json.dumps(classes, sort_keys=True)}")
    for e in errors[:20]:
        print("check: FAIL " + e)
    sys.exit(1 if errors else 0)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("no-text-schema")
    s = sub.add_parser("spec-avro")
    s.add_argument("events"); s.add_argument("schema_id", type=int); s.add_argument("out")
    s.add_argument("--count", type=int, default=0)
    s = sub.add_parser("spec-raw")
    s.add_argument("events"); s.add_argument("out"); s.add_argument("--count", type=int, default=0)
    s = sub.add_parser("spec-dlq")
    s.add_argument("events"); s.add_argument("format", choices=["json", "avro"])
    s.add_argument("schema_id", type=int); s.add_argument("out")
    s.add_argument("--count", type=int, default=0)
    s = sub.add_parser("produce")
    s.add_argument("bootstrap"); s.add_argument("topic"); s.add_argument("spec"); s.add_argument("placed")
    s = sub.add_parser("consume")
    s.add_argument("bootstrap"); s.add_argument("topic"); s.add_argument("out")
    s.add_argument("--count", type=int, required=True); s.add_argument("--timeout", type=float, default=30)
    s = sub.add_parser("check")
    s.add_argument("spec"); s.add_argument("placed"); s.add_argument("results"); s.add_argument("dlq")
    s.add_argument("--format", choices=["json", "avro"], required=True)
    s.add_argument("--topic", required=True)
    s.add_argument("--explain", type=int, default=0)
    s.add_argument("--text", action="store_true")
    s.add_argument("--raw-text", action="store_true", help="the value is the text (raw input)")
    s.add_argument("--schema-id", type=int)
    s.add_argument("--min-good-labels", type=float, default=0.99)
    a = ap.parse_args()
    if a.cmd == "no-text-schema":
        print(json.dumps(NO_TEXT_JSON))
        return
    {"spec-avro": cmd_spec, "spec-raw": cmd_spec, "spec-dlq": cmd_spec, "produce": cmd_produce,
     "consume": cmd_consume, "check": cmd_check}[a.cmd](a)


if __name__ == "__main__":
    main()
