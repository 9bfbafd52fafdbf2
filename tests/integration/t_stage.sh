# t_stage.sh: the stage core on a real broker (sourced by run.sh).
#   stage_order_w1 / stage_order_w2 / stage_order_w0: with workers=1 and 2
#       and output.partition=same, every input partition's results come out
#       in offset order; every id exactly once. With workers=0 the same, and
#       the stage starts no worker thread (the source thread runs every
#       batch: its log says so and /proc shows no kl:worker thread).
#   stage_routing: two models, routed by topic and by kind; each result
#       names the right model; an unrouted kind goes to the DLQ as no_route.
#   stage_flood: 200,000 events produced at full speed into a stage with a
#       20,000-event queue and a slowed worker: the input pauses and resumes, the
#       anonymous resident memory grows by at most KL_IT_FLOOD_RSS_MB over
#       its level once the stage is ready (model and label projections
#       loaded; sampled every 100 ms), every id comes out.
#   stage_broker_down: the broker stops while results are in flight;
#       SIGTERM ends the stage within shutdown.timeout.ms + 2 s, saying
#       that offsets were not committed; the broker is restarted after.
#   stage_broker_down_w0: the same with workers=0 and a producer queue so
#       small that the source thread blocks in a batch waiting for room.

# ks_consume_parts TOPIC OUTFILE: every record as "Partition:P<TAB>key<TAB>value"
ks_consume_parts() {
    local want got
    want=$(kt_count "$1")
    "${KT_JAVA[@]}" org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$KT_BS" --topic "$1" \
        --from-beginning --max-messages "$want" --timeout-ms 10000 \
        --property print.partition=true --property print.key=true --property "key.separator=	" \
        > "$2" 2>"$2.err"
    got=$(wc -l < "$2")
    [ "$got" -ge "$want" ] || { echo "ks: read $got of $want records from $1"; tail -5 "$2.err"; return 1; }
}

# ks_headers TOPIC OUTFILE: every record's headers, one line per record
ks_headers() {
    local want
    want=$(kt_count "$1")
    "${KT_JAVA[@]}" org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$KT_BS" --topic "$1" \
        --from-beginning --max-messages "$want" --timeout-ms 10000 \
        --property print.headers=true --property print.value=false > "$2" 2>"$2.err"
}

stage_order_run() { # NAME WORKERS
    local name=$1 in=it-st-$1 out=it-st-$1-out grp=it-st-$1-g
    kt_topics "$in" 4 "$out" 4 "$out-dlq" 1 || return 1
    kt_produce "$in" "$WORK/events.txt" || return 1
    write_conf "$name" "$in" "$out" "$grp"
    cat >> "$WORK/$name.properties" <<EOC
workers=$2
output.partition=same
batch.max.size=64
batch.max.delay.us=500
EOC
    start_stage "$name"
    kt_wait_lag_zero "$grp" "$in" "$NEVENTS" 120 || { tail -20 "$WORK/$name.log"; return 1; }
    if [ "$2" = 0 ]; then
        # still running: its threads by name
        if grep -qx 'kl:worker.*' /proc/"$STAGE_PID"/task/*/comm; then
            echo "it: workers=0 but the stage runs a worker thread"; return 1
        fi
        grep -q '0 worker(s) (the source thread runs every batch)' "$WORK/$name.log" \
            || { echo "it: workers=0 not in the start-up line"; grep -m1 'instance ' "$WORK/$name.log"; return 1; }
    fi
    stop_stage || { echo "it: stage exit code $? after SIGTERM (want 0)"; tail -20 "$WORK/$name.log"; return 1; }
    grep -o 'summary: .*' "$WORK/$name.log" | tail -1
    ks_consume_parts "$out" "$WORK/$name.out" || return 1
    python3 "$HERE/stage_check.py" order "$WORK/$name.out" --events "$WORK/events.txt" --exactly-once
}

test_stage_order_w1() { stage_order_run order1 1; }
test_stage_order_w2() { stage_order_run order2 2; }
test_stage_order_w0() { stage_order_run order0 0; }

test_stage_routing() {
    local news=it-st-news txn=it-st-txn out=it-st-route-out grp=it-st-route-g
    [ -s "$DATA_DIR/mcc.tsv" ] || bash "$REPO/tests/data/fetch.sh" mcc >/dev/null || return 1
    "$KL_BIN" train -q -i "$DATA_DIR/mcc.tsv" -o "$WORK/txn.safetensors" --id mcc --version it-1 \
        --tokenizer unicode --dim 32 --epoch 5 --lr 0.5 >"$WORK/train-txn.log" 2>&1 \
        || { cat "$WORK/train-txn.log"; return 1; }
    # news events (kind news) on the news topic; card descriptors as kind
    # "transaction" on the txn topic and a few on the news topic (kind wins);
    # kind "sport" on the txn topic: no route.
    python3 - "$WORK/events.txt" "$DATA_DIR/mcc.tsv" "$WORK/route" <<'PY' || return 1
import json, sys
ev, mcc, base = sys.argv[1], sys.argv[2], sys.argv[3]
news = [l for l in open(ev, encoding="utf-8")][:2000]
descs = [l.rstrip("\n").split("\t", 1)[1] for l in open(mcc, encoding="utf-8") if "\t" in l][:1000]
allev = open(base + "-all.txt", "w", encoding="utf-8")
with open(base + "-news.txt", "w", encoding="utf-8") as fn, open(base + "-txn.txt", "w", encoding="utf-8") as ft:
    for l in news:
        fn.write(l); allev.write(l)
    for i, d in enumerate(descs):
        doc = {"id": 500000 + i, "text": d, "kind": "transaction"}
        line = f"{doc['id']}\t{json.dumps(doc, ensure_ascii=False)}\n"
        (fn if i % 10 == 0 else ft).write(line); allev.write(line)
    for i in range(200):
        doc = {"id": 600000 + i, "text": f"football match tonight {i}", "kind": "sport"}
        line = f"{doc['id']}\t{json.dumps(doc)}\n"
        ft.write(line); allev.write(line)
PY
    kt_topics "$news" 2 "$txn" 2 "$out" 2 "$out-dlq" 1 || return 1
    kt_produce "$news" "$WORK/route-news.txt" || return 1
    kt_produce "$txn" "$WORK/route-txn.txt" || return 1
    write_conf route "$news,$txn" "$out" "$grp"
    sed -i '/^model.path=/d' "$WORK/route.properties"
    cat >> "$WORK/route.properties" <<EOC
models=news,txn
model.news.path=$WORK/model.safetensors
model.txn.path=$WORK/txn.safetensors
route.topic.$news=news
route.kind.transaction=txn
route.default=none
EOC
    local total; total=$(wc -l < "$WORK/route-all.txt")
    start_stage route
    local i
    for i in $(seq 1 120); do
        [ "$(kt_lag "$grp" "$news")" = "0" ] && [ "$(kt_lag "$grp" "$txn")" = "0" ] && break
        sleep 1
    done
    stop_stage || { echo "it: stage exit code $? (want 0)"; tail -20 "$WORK/route.log"; return 1; }
    ks_consume_parts "$out" "$WORK/route.out" || return 1
    python3 "$HERE/stage_check.py" routing "$WORK/route.out" --events "$WORK/route-all.txt" \
        --route news=thucnews --route transaction=mcc || return 1
    ks_headers "$out-dlq" "$WORK/route.dlq" || return 1
    local ndlq nclass
    ndlq=$(wc -l < "$WORK/route.dlq")
    nclass=$(grep -c 'klabel.error.class:no_route' "$WORK/route.dlq")
    log "routing: $total events, $ndlq dead letters, $nclass of class no_route"
    [ "$ndlq" -eq 200 ] && [ "$nclass" -eq 200 ] || { head -3 "$WORK/route.dlq"; return 1; }
}

test_stage_flood() {
    local in=it-st-flood out=it-st-flood-out grp=it-st-flood-g bound=${KL_IT_FLOOD_RSS_MB:-160}
    # AddressSanitizer's shadow memory and quarantine are anonymous memory
    # too (the same flood peaks near 475 MB under it): a sanitizer build
    # gets four times the bound unless one is given.
    if [ -z "${KL_IT_FLOOD_RSS_MB:-}" ] && ldd "$KL_BIN" 2>/dev/null | grep -q libasan; then
        bound=$((bound * 4))
        log "flood: $KL_BIN is built with AddressSanitizer: bound ${bound} MB"
    fi
    python3 - "$WORK/events.txt" "$WORK/flood.txt" <<'PY' || return 1
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
with open(sys.argv[2], "w", encoding="utf-8") as f:
    n = 0
    while n < 200000:
        for l in lines:
            doc = json.loads(l.split("\t", 1)[1])
            doc["id"] = 1000000 + n
            f.write(f"{doc['id']}\t{json.dumps(doc, ensure_ascii=False)}\n")
            n += 1
            if n == 200000:
                break
PY
    kt_topics "$in" 4 "$out" 4 "$out-dlq" 1 || return 1
    write_conf flood "$in" "$out" "$grp"
    cat >> "$WORK/flood.properties" <<EOC
# a small queue (librdkafka 2.0.2 takes 0.5-1 s to fetch again after a
# resume, so a tiny queue would make this test crawl; see docs/architecture.md)
queue.max.events=20000
queue.max.bytes=8388608
queue.resume.ratio=0.5
# pause at once when full (the default first holds the input for 1 s)
queue.hold.ms=0
batch.max.size=128
# a slow model: the worker sleeps 3 ms before each batch (at most ~40k/s)
debug.worker.stall.ms=3
EOC
    start_stage flood
    local pid=$STAGE_PID i base
    # The level once started (model open, label projections built,
    # partitions assigned) is the base the flood is measured against.
    for i in $(seq 1 300); do grep -q 'assigned [0-9]* partition' "$WORK/flood.log" && break; sleep 0.1; done
    base=$(awk '/^RssAnon:/ { print int($2 / 1024) }' "/proc/$pid/status")
    log "flood: stage ready, RssAnon ${base} MB"
    ( while kill -0 "$pid" 2>/dev/null; do
          awk '/^(VmRSS|RssAnon|RssFile):/ { printf "%s %s ", $1, $2 } END { print "" }' "/proc/$pid/status" 2>/dev/null
          sleep 0.1
      done ) > "$WORK/flood.rss" &
    local sampler=$!
    local t0; t0=$(date +%s.%N)
    kt_produce "$in" "$WORK/flood.txt" || { kill "$sampler"; return 1; }
    log "flood: 200000 events produced in $(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t0}") s"
    kt_wait_lag_zero "$grp" "$in" 200000 180 || { kill "$sampler"; tail -20 "$WORK/flood.log"; return 1; }
    log "flood: drained after $(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t0}") s"
    stop_stage || { echo "it: stage exit code $? (want 0)"; kill "$sampler"; tail -20 "$WORK/flood.log"; return 1; }
    wait "$sampler" 2>/dev/null
    local anon rss
    anon=$(awk '{ for (i = 1; i < NF; i++) if ($i == "RssAnon:") if ($(i+1) > m) m = $(i+1) } END { print int(m / 1024) }' "$WORK/flood.rss")
    rss=$(awk '{ for (i = 1; i < NF; i++) if ($i == "VmRSS:") if ($(i+1) > m) m = $(i+1) } END { print int(m / 1024) }' "$WORK/flood.rss")
    log "flood: $(wc -l < "$WORK/flood.rss") samples; peak RssAnon ${anon} MB, $((anon - base)) MB over the start (bound ${bound} MB), peak VmRSS ${rss} MB (model file pages included)"
    grep -o 'summary: .*' "$WORK/flood.log" | tail -1
    local np nr
    np=$(grep -c 'pausing input' "$WORK/flood.log")
    nr=$(grep -c 'resuming input' "$WORK/flood.log")
    log "flood: $np pause and $nr resume lines logged"
    [ "$np" -gt 0 ] && [ "$nr" -gt 0 ] || { echo "it: no pause/resume logged"; return 1; }
    [ "$anon" -gt 0 ] && [ $((anon - base)) -le "$bound" ] || { echo "it: RssAnon grew by $((anon - base)) MB, over the bound ${bound} MB"; return 1; }
    kt_consume_all "$out" "$WORK/flood.out" || return 1
    python3 - "$WORK/flood.out" <<'PY'
import json, sys
ids = set()
for line in open(sys.argv[1], encoding="utf-8"):
    ids.add(json.loads(line.split("\t", 1)[1])["id"])
want = set(range(1000000, 1200000))
miss = want - ids
print(f"flood: {len(ids)} distinct ids of {len(want)}")
sys.exit(1 if miss else 0)
PY
}

broker_down_run() { # NAME [EXTRA SETTING...]
    local name=$1 in=it-st-$1 out=it-st-$1-out grp=it-st-$1-g bound_ms=4000
    shift
    kt_topics "$in" 2 "$out" 2 "$out-dlq" 1 || return 1
    head -n 4000 "$WORK/events.txt" > "$WORK/$name.txt"
    kt_produce "$in" "$WORK/$name.txt" || return 1
    write_conf "$name" "$in" "$out" "$grp"
    cat >> "$WORK/$name.properties" <<EOC
shutdown.timeout.ms=$bound_ms
batch.max.size=32
# a slow model (~300 events/s), so results are still in flight when the broker goes
debug.worker.stall.ms=100
kafka.producer.message.timeout.ms=60000
EOC
    printf '%s\n' "$@" >> "$WORK/$name.properties"
    start_stage "$name"
    local i n=0
    for i in $(seq 1 300); do n=$(kt_count "$out"); [ "$n" -gt 0 ] && break; sleep 0.2; done
    [ "$n" -gt 0 ] || { echo "it: no results before stopping the broker"; tail -20 "$WORK/$name.log"; return 1; }
    log "$name: $n results out; stopping the broker"
    bash "$BROKER" stop "$WORK/broker" >/dev/null 2>&1
    sleep 1
    local t0 rc elapsed
    t0=$(date +%s%N)
    kill -TERM "$STAGE_PID"
    for i in $(seq 1 300); do kill -0 "$STAGE_PID" 2>/dev/null || break; sleep 0.05; done
    elapsed=$(( ($(date +%s%N) - t0) / 1000000 ))
    if kill -0 "$STAGE_PID" 2>/dev/null; then kill -9 "$STAGE_PID"; fi
    wait "$STAGE_PID"; rc=$?
    STAGE_PID=""
    log "$name: stage exited with $rc after $elapsed ms (shutdown.timeout.ms=$bound_ms)"
    grep -E 'not committed|not delivered|interrupting|shutdown' "$WORK/$name.log" | tail -4
    log "restarting the broker"
    bash "$BROKER" start "$WORK/broker" >/dev/null || { echo "it: broker did not restart"; return 1; }
    # Bound: shutdown.timeout.ms + 0.5 s (destroying the clients) + 1.5 s for a loaded machine.
    [ "$elapsed" -le $((bound_ms + 2000)) ] || { echo "it: shutdown took $elapsed ms"; tail -20 "$WORK/$name.log"; return 1; }
    grep -qE 'not committed|not delivered' "$WORK/$name.log" || { echo "it: no log line about uncommitted offsets"; return 1; }
}

test_stage_broker_down() { broker_down_run down; }
# workers=0 with a producer queue of 64 records: once the broker is gone
# the source thread itself waits for queue space inside a batch; the guard
# thread must interrupt it at the deadline.
test_stage_broker_down_w0() {
    broker_down_run down0 workers=0 kafka.producer.queue.buffering.max.messages=64 || return 1
    grep -q 'a batch is still running at the shutdown deadline' "$WORK/down0.log" \
        || { echo "it: the source thread was not found waiting in a batch"; return 1; }
}

register stage_order_w1 test_stage_order_w1
register stage_order_w2 test_stage_order_w2
register stage_order_w0 test_stage_order_w0
register stage_routing test_stage_routing
register stage_flood test_stage_flood
register stage_broker_down test_stage_broker_down
register stage_broker_down_w0 test_stage_broker_down_w0
