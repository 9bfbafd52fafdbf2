# t_bilstm.sh: a neural model serves the stream on the real broker
# (sourced by run.sh; KL_IT_ONLY='^bilstm' runs only these).
#   bilstm_stream: `klabel train --arch bilstm` on the 8,000 training
#                  headlines (jieba words, the seed's sizes: embedding 128,
#                  64 units per direction, 2 epochs), then `klabel run`
#                  with that model file: (1) drain: all 10,000 events
#                  produced first, every id exactly once, held-out accuracy
#                  >= 0.70, no dead letters, SIGTERM exits 0, events/s from
#                  the first to the last result; (2) trickle: 1,000 events
#                  at about 500/s, latency from the /metrics histograms
#                  (klabel_model_seconds per batch, consume-to-produce per
#                  event). The shared fastText-style model goes through
#                  both too; the figures are logged side by side and
#                  written to $KL_NN_STREAM_OUT when it is set
#                  (results/nn/stream.json for docs/benchmarks.md).

# nn_free_port: a free TCP port on 127.0.0.1
nn_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# nn_results PORT: klabel_results_out_total from the stage's /metrics (-1 if none)
nn_results() {
    curl -s -m 2 "http://127.0.0.1:$1/metrics" 2>/dev/null |
        awk '$1 == "klabel_results_out_total" { v = $2 } END { print (v == "" ? -1 : v) }'
}

# nn_conf NAME MODEL IN OUT GROUP PORT: write_conf with MODEL and metrics on PORT
nn_conf() {
    write_conf "$1" "$3" "$4" "$5"
    sed -i "s|^model.path=.*|model.path=$2|" "$WORK/$1.properties"
    printf 'metrics.port=%s\n' "$6" >> "$WORK/$1.properties"
}

# nn_drain NAME MODEL IN OUT GROUP MIN_ACC: all events produced first, then
# the stage drains them; "events seconds" of the drain (first to last
# result, from /metrics polled every 50 ms) into $WORK/NAME.time; every id
# exactly once, held-out accuracy >= MIN_ACC, no dead letters.
nn_drain() {
    local name=$1 port n c0=0 t0="" t1=""
    port=$(nn_free_port)
    kt_topics "$3" 3 "$4" 3 "$4-dlq" 1 || return 1
    kt_produce "$3" "$WORK/events.txt" || return 1
    nn_conf "$name" "$2" "$3" "$4" "$5" "$port"
    start_stage "$name"
    while :; do
        n=$(nn_results "$port")
        if [ -z "$t0" ] && [ "$n" -gt 0 ]; then t0=$(date +%s.%N); c0=$n; fi
        if [ "$n" -ge "$NEVENTS" ]; then t1=$(date +%s.%N); break; fi
        kill -0 "$STAGE_PID" 2>/dev/null || { echo "it: the stage exited"; tail -20 "$WORK/$name.log"; return 1; }
        sleep 0.05
    done
    echo "$((NEVENTS - c0)) $(awk "BEGIN{printf \"%.3f\", $t1 - $t0}")" > "$WORK/$name.time"
    kt_wait_lag_zero "$5" "$3" "$NEVENTS" 120 || { tail -20 "$WORK/$name.log"; return 1; }
    stop_stage || { echo "it: stage exit code $? after SIGTERM (want 0)"; tail -20 "$WORK/$name.log"; return 1; }
    kt_consume_all "$4" "$WORK/$name.out" || return 1
    python3 "$HERE/verify.py" "$WORK/$name.out" --truth "$WORK/truth.txt" --labels "$WORK/labels.txt" \
        --exactly-once --topic "$3" --min-accuracy "$6" || return 1
    n=$(kt_count "$4-dlq")
    [ "$n" -eq 0 ] || { echo "it: $n records in the DLQ for good input"; return 1; }
}

# nn_trickle NAME MODEL IN OUT GROUP: the stage first, then 1,000 events
# at about 500/s; its /metrics afterwards into $WORK/NAME.prom (latency
# under a light load, not behind a backlog).
nn_trickle() {
    local name=$1 port n i
    port=$(nn_free_port)
    kt_topics "$3" 3 "$4" 3 "$4-dlq" 1 || return 1
    nn_conf "$name" "$2" "$3" "$4" "$5" "$port"
    start_stage "$name"
    for i in $(seq 1 300); do
        [ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" = 200 ] && break
        sleep 0.2
    done
    head -n 1000 "$WORK/events.txt" | python3 -c '
import sys, time
lines = sys.stdin.readlines()
for i in range(0, len(lines), 10):
    sys.stdout.write("".join(lines[i:i + 10])); sys.stdout.flush(); time.sleep(0.02)
' | kt_produce "$3" /dev/stdin || return 1
    for i in $(seq 1 600); do
        n=$(nn_results "$port"); [ "$n" -ge 1000 ] && break; sleep 0.1
    done
    [ "$n" -ge 1000 ] || { echo "it: only $n of 1000 trickled results"; tail -20 "$WORK/$name.log"; return 1; }
    curl -s -m 5 -o "$WORK/$name.prom" "http://127.0.0.1:$port/metrics" || return 1
    stop_stage || { echo "it: stage exit code $? after SIGTERM (want 0)"; return 1; }
}

test_bilstm_stream() {
    local dict="$DATA_DIR/jieba-dict.txt" seg=() t0
    [ -s "$dict" ] && seg=(--segmenter "$dict")
    t0=$(date +%s)
    "$KL_BIN" train -q --arch bilstm -i "$WORK/train.tsv" -o "$WORK/bilstm.safetensors" \
        --id thucnews-bilstm --version it-1 --dim 128 --hidden 64 --epoch 2 \
        --dropout 0.2 "${seg[@]}" >"$WORK/bilstm-train.log" 2>&1 \
        || { cat "$WORK/bilstm-train.log"; return 1; }
    log "trained the bilstm model in $(( $(date +%s) - t0 )) s"
    nn_drain nn_bilstm "$WORK/bilstm.safetensors" it-nn-in-1 it-nn-out-1 it-nn-group-1 0.70 || return 1
    nn_drain nn_fasttext "$WORK/model.safetensors" it-nn-in-2 it-nn-out-2 it-nn-group-2 0.75 || return 1
    nn_trickle nn_bilstm "$WORK/bilstm.safetensors" it-nn-in-3 it-nn-out-3 it-nn-group-3 || return 1
    nn_trickle nn_fasttext "$WORK/model.safetensors" it-nn-in-4 it-nn-out-4 it-nn-group-4 || return 1
    python3 - "$WORK" "${KL_NN_STREAM_OUT:-}" <<'EOF' || return 1
import json, sys
work, out = sys.argv[1], sys.argv[2]

def hist(prom, name):
    """(count, sum, p50, p99) of a histogram: quantiles as the upper
    bound of the bucket that reaches them."""
    b, count, total = [], 0, 0.0
    for line in open(prom):
        if line.startswith(name + "_bucket{"):
            le = line.split('le="')[1].split('"')[0]
            b.append((float("inf") if le == "+Inf" else float(le),
                      float(line.split()[-1])))
        elif line.startswith(name + "_count"):
            count = float(line.split()[-1])
        elif line.startswith(name + "_sum"):
            total = float(line.split()[-1])
    def q(p):
        for le, c in sorted(b):
            if c >= p * count:
                return le
        return float("nan")
    return count, total, q(0.5), q(0.99)

rows = []
for name, label in (("nn_bilstm", "bilstm"), ("nn_fasttext", "fastText-style")):
    ev, secs = open("%s/%s.time" % (work, name)).read().split()
    prom = "%s/%s.prom" % (work, name)  # the trickle run's
    bc, bsum, _, _ = hist(prom, "klabel_batch_size")
    mc, msum, m50, m99 = hist(prom, "klabel_model_seconds")
    cc, csum, c50, c99 = hist(prom, "klabel_consume_to_produce_seconds")
    r = {"model": label, "events": int(ev), "seconds": float(secs),
         "events_per_s": int(ev) / float(secs),
         "mean_batch": round(bsum / bc, 1) if bc else None,
         "model_ms_per_batch_mean": round(1e3 * msum / mc, 3) if mc else None,
         "p50_ms": "%.3g / %.3g" % (1e3 * m50, 1e3 * c50),
         "p99_ms": "%.3g / %.3g" % (1e3 * m99, 1e3 * c99)}
    rows.append(r)
    print("it: %-15s %d events in %.1f s = %.0f events/s; mean batch %s; "
          "model time per batch mean %s ms, p50 <= %.3g ms, p99 <= %.3g ms; "
          "consume-to-produce p50 <= %.3g ms, p99 <= %.3g ms"
          % (label, r["events"], r["seconds"], r["events_per_s"],
             r["mean_batch"], r["model_ms_per_batch_mean"], 1e3 * m50,
             1e3 * m99, 1e3 * c50, 1e3 * c99))
if out:
    note = ("Throughput: the 10,000 THUCNews events are produced to a "
            "3-partition topic first, then `klabel run` (batch.max.size "
            "256, batch.max.delay.us 2000) drains them on the real broker; "
            "events/s from the first to the last result (the stage's "
            "results counter, polled every 50 ms). Latency: a second run "
            "gets 1,000 events trickled at about 500/s; the p50 / p99 "
            "columns are the upper bounds of the /metrics histogram "
            "buckets holding those percentiles, as model time per batch / "
            "consume-to-produce per event (mean batch size of that run in "
            "brackets). bilstm: trained by the test (2 epochs, the seed's "
            "sizes, jieba words); fastText-style: run.sh's shared model "
            "(dim 64, word bigrams). Shared 2-core machine, broker on the "
            "same host (tests/integration/t_bilstm.sh).")
    load = open("/proc/loadavg").read().split()[:3]
    json.dump({"note": note, "loadavg": load, "rows": rows}, open(out, "w"),
              indent=1)
EOF
}

register bilstm_stream test_bilstm_stream
