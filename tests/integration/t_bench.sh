# t_bench.sh: the stage benchmark's measuring tools (tests/bench/load)
# against the real stage on the real broker (sourced by run.sh).
#   bench_trace: 2,000 events paced at 2,000/s by `klbench gen` through
#     `klabel run` with the kl_trace_ic.so interceptor loaded, read back by
#     `klbench collect`: every id once, each result carrying the generator's
#     send stamp and the stage's consume / produce stamps (input headers
#     carried over, interceptors fired) in causal order, and a label.
#     This is what `make bench` measures latency with; if it breaks, the
#     benchmark's latencies mean nothing.
#   bench_jitter: `klbench jitter` prints its JSON line with every field,
#     counts that nest (> 50 us >= > 100 us >= ... ) and a share of time
#     lost within [0, 1); a bad -s exits 2.

bench_tools() { # builds klbench and kl_trace_ic.so into $WORK/bench once
    local d="$WORK/bench" src="$REPO/tests/bench/load"
    [ -x "$d/klbench" ] && [ -f "$d/kl_trace_ic.so" ] && return 0
    mkdir -p "$d"
    cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -o "$d/klbench" \
        "$src/klbench.c" "$src/gen.c" "$src/collect.c" "$src/jitter.c" -lrdkafka || return 1
    cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -fPIC -shared -o "$d/kl_trace_ic.so" \
        -I"$REPO/plugin" "$src/kl_trace_ic.c" "$REPO/plugin/numfmt.c" -lrdkafka -lm
}

test_bench_trace() {
    local p=it-bench-1 n=2000 i col
    bench_tools || { echo "it: cannot build the benchmark tools"; return 1; }
    kt_topics "$p-in" 4 "$p-out" 4 "$p-out-dlq" 1 || return 1
    write_conf bench_trace "$p-in" "$p-out" "$p-group"
    echo "kafka.plugin.library.paths=$WORK/bench/kl_trace_ic.so" >> "$WORK/bench_trace.properties"
    # the texts file of the generator: JSON-escaped headlines, one a line
    python3 -c '
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    t = " ".join(line.rstrip("\n").split("\t", 1)[-1].split())
    if t:
        print(json.dumps(t, ensure_ascii=False)[1:-1])' "$TSV" > "$WORK/bench-texts.txt"
    "$WORK/bench/klbench" collect -b "$BS" -t "$p-out" -o "$WORK/bench.bin" \
        > "$WORK/bench-collect.out" 2> "$WORK/bench-collect.err" &
    col=$!
    start_stage bench_trace
    "$WORK/bench/klbench" gen -b "$BS" -t "$p-in" -i "$WORK/bench-texts.txt" -r 2000 -n "$n" \
        > "$WORK/bench-gen.out" 2>&1 || { cat "$WORK/bench-gen.out"; kill "$col"; return 1; }
    for i in $(seq 1 600); do
        tail -n 1 "$WORK/bench-collect.out" | grep -q "^P $n " && break
        sleep 0.1
    done
    stop_stage || { echo "it: stage exit code $? after SIGTERM (want 0)"; tail -20 "$WORK/bench_trace.log"; kill "$col"; return 1; }
    kill -TERM "$col"; wait "$col"
    python3 - "$WORK/bench.bin" "$n" <<'EOF'
import struct, sys
path, n = sys.argv[1], int(sys.argv[2])
data = open(path, "rb").read()
recs = [struct.unpack_from("<qqqqqii", data, o) for o in range(0, len(data), 48)]
ids = sorted(r[0] for r in recs)
bad = []
if ids != list(range(n)):
    bad.append(f"ids: {len(recs)} results, {len(set(ids))} distinct, want 0..{n - 1} once each")
for i, recv, sent, c, p, part, label in recs:
    if not (0 < sent <= c <= p <= recv) or label < 0:
        bad.append(f"id {i}: sent {sent} consumed {c} produced {p} received {recv} label {label}")
        break
if bad:
    sys.exit("it: " + "; ".join(bad))
c2p = sorted(r[4] - r[3] for r in recs)
print(f"bench tools: {len(recs)} results traced; consume-to-produce p50 {c2p[len(c2p) // 2]} us")
EOF
}

test_bench_jitter() {
    bench_tools || { echo "it: cannot build the benchmark tools"; return 1; }
    "$WORK/bench/klbench" jitter -s 0.5 > "$WORK/jitter.json" || { echo "it: klbench jitter failed"; return 1; }
    python3 - "$WORK/jitter.json" <<'EOF' || return 1
import json, sys
j = json.load(open(sys.argv[1]))
keys = ["seconds", "gaps_per_s_over_50us", "gaps_per_s_over_100us", "gaps_per_s_over_300us",
        "gaps_per_s_over_1ms", "longest_gap_us", "lost_share", "involuntary_switches"]
missing = [k for k in keys if k not in j]
assert not missing, f"missing {missing}: {j}"
g = [j[k] for k in keys[1:5]]
assert all(a >= b >= 0 for a, b in zip(g, g[1:])), f"counts do not nest: {j}"
assert 0.45 < j["seconds"] < 2 and 0 <= j["lost_share"] < 1, j
print(f"bench jitter: {j}")
EOF
    local rc=0
    "$WORK/bench/klbench" jitter -s 0 > /dev/null 2>&1 || rc=$?
    [ "$rc" -eq 2 ] || { echo "it: jitter -s 0: exit code $rc (want 2)"; return 1; }
}

register bench_trace test_bench_trace
register bench_jitter test_bench_jitter
