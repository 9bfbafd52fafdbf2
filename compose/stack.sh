#!/usr/bin/env bash
# stack.sh - the topology of compose/docker-compose.yml run natively, without
# Docker: a real Kafka broker (tests/kafka/broker.sh), the same topics, the
# trainer, the klabel stage with compose/klabel.properties, a producer that
# replays held-out THUCNews headlines as JSON events, and a consumer that reads
# the labelled results back. Prints a sample, the count, the accuracy against
# the true labels and the timings; exits non-zero if any step fails, klabel
# does not exit 0 on SIGTERM, or fewer results than events arrive in time.
#
# Usage: bash compose/stack.sh        (or `make stack`, which builds first)
#
# Environment:
#   KL_BIN                 klabel binary (default build/klabel)
#   KL_DATA_DIR            folder holding thucnews.tsv (default .cache/data;
#                          `bash tests/data/fetch.sh thucnews` writes it)
#   KL_STACK_EVENTS        headlines to send (default 2000, at most 2000: the
#                          held-out fifth of the 10,000)
#   KL_STACK_TIMEOUT       seconds to wait for all results (default 120)
#   KL_STACK_MIN_ACCURACY  fail below this held-out accuracy (default 0.75;
#                          measured 0.82 with TRAIN_ARGS below)
#   KL_STACK_KEEP=1        keep the work folder (logs, data, model) at exit
#   KL_KAFKA_CACHE         Kafka jars cache of broker.sh (default .cache/kafka)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
KL_BIN="${KL_BIN:-$REPO/build/klabel}"
[[ "$KL_BIN" == /* ]] || KL_BIN="$REPO/$KL_BIN"
DATA_DIR="${KL_DATA_DIR:-$REPO/.cache/data}"
[[ "$DATA_DIR" == /* ]] || DATA_DIR="$REPO/$DATA_DIR"
TSV="$DATA_DIR/thucnews.tsv"
EVENTS="${KL_STACK_EVENTS:-2000}"
TIMEOUT="${KL_STACK_TIMEOUT:-120}"
MIN_ACC="${KL_STACK_MIN_ACCURACY:-0.75}"
KEEP="${KL_STACK_KEEP:-0}"
LIBS="${KL_KAFKA_CACHE:-$REPO/.cache/kafka}/libs"
BROKER="$REPO/tests/kafka/broker.sh"
PY="${PYTHON:-python3}"

# --- the topology: keep in step with compose/docker-compose.yml -------------
# (compose/check.sh compares these with the compose file and the Dockerfile)
TOPICS=(news 3 transactions 3 labels 3 klabel-dlq 1)
TRAIN_ARGS=(--tokenizer unicode --epoch 10 --lr 0.5 --word-ngrams 2 --dim 64 --bucket 200000)
INPUT_TOPIC=news
OUTPUT_TOPIC=labels
DLQ_TOPIC=klabel-dlq
BAD=2  # bad records sent after the headlines; each must reach $DLQ_TOPIC

T0=$(date +%s%N)
now_ms() { echo $((($(date +%s%N) - T0) / 1000000)); }
secs() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }  # ms -> "s.mmm"
say() { printf '[%8s s] %s\n' "$(secs "$(now_ms)")" "$*"; }
die() { printf '[%8s s] stack.sh: FAILED: %s\n' "$(secs "$(now_ms)")" "$*" >&2; exit 1; }
declare -a TIMING=()
timed() {  # timed LABEL START_MS: records the time since START_MS under LABEL
    TIMING+=("$(printf '  %-36s %9s s' "$1" "$(secs $(($(now_ms) - $2)))")")
}

W=""
KL_PID=""
CONS_PIDS=()
cleanup() {
    local rc=$?
    set +e
    if [[ -n "$KL_PID" ]] && kill -0 "$KL_PID" 2>/dev/null; then
        kill -TERM "$KL_PID" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$KL_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$KL_PID" 2>/dev/null
    fi
    for p in "${CONS_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${CONS_PIDS[@]}"; do wait "$p" 2>/dev/null; done
    if [[ -n "$W" ]]; then
        if ((rc != 0)); then
            for f in klabel.log train.log produce.log results.err dlq.err broker/broker.log; do
                [[ -s "$W/$f" ]] || continue
                echo "--- last lines of $W/$f" >&2
                tail -n 15 "$W/$f" >&2
            done
        fi
        [[ -d "$W/broker" ]] && bash "$BROKER" stop "$W/broker"
        if [[ "$KEEP" == 1 ]]; then
            echo "stack.sh: kept $W" >&2
        else
            rm -rf "$W"
        fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 0. what we need ----------------------------------------------------------
[[ -x "$KL_BIN" ]] || die "no klabel binary at $KL_BIN (run make)"
[[ -s "$TSV" ]] || die "no $TSV (run: bash tests/data/fetch.sh thucnews)"
[[ -f "$BROKER" ]] || die "no broker harness at $BROKER"
command -v java >/dev/null || die "java not found (Kafka needs Java 17+; make deps)"
command -v "$PY" >/dev/null || die "$PY not found"
[[ "$EVENTS" =~ ^[1-9][0-9]*$ ]] || die "KL_STACK_EVENTS must be a positive integer"
W="$(mktemp -d "${TMPDIR:-/tmp}/klabel-stack.XXXXXX")"
say "work folder $W, klabel $KL_BIN"

# --- 1. data: held-out events + training split (the compose `data` stage) ------
"$PY" "$HERE/thucnews.py" split "$TSV" "$W/data" --events "$EVENTS" --bad "$BAD" |
    sed 's/^/    /'
N=$(wc -l <"$W/data/truth.tsv")
((N == EVENTS)) || die "asked for $EVENTS events, the held-out split has $N"

# --- 2. kafka: a real single-node KRaft broker (service `kafka`) ---------------
t=$(now_ms)
BS="$(bash "$BROKER" start "$W/broker" 2>"$W/broker-start.log")" ||
    { cat "$W/broker-start.log" >&2; die "the broker did not start"; }
timed "broker start" "$t"
say "broker ready at $BS"
TOOLS=(java -Xms64m -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC
    "-Dlog4j2.configurationFile=$W/broker/tools-log4j2.xml" -cp "$LIBS/*")

# --- 3. init: the topics -------------------------------------------------------
t=$(now_ms)
bash "$BROKER" topic "$W/broker" "${TOPICS[@]}" || die "creating topics failed"
timed "create $((${#TOPICS[@]} / 2)) topics" "$t"
say "topics: $(printf '%s:%s ' "${TOPICS[@]}")"

# --- 4. trainer ------------------------------------------------------------------
mkdir -p "$W/models"
MODEL="$W/models/thucnews.safetensors"
t=$(now_ms)
"$KL_BIN" train -i "$W/data/train.tsv" -o "$MODEL" "${TRAIN_ARGS[@]}" >"$W/train.log" 2>&1 ||
    die "klabel train failed (exit $?)"
[[ -s "$MODEL" ]] || die "klabel train wrote no $MODEL"
timed "train ($(wc -l <"$W/data/train.tsv") headlines)" "$t"
say "trained $MODEL ($(du -h "$MODEL" | cut -f1)): klabel train ${TRAIN_ARGS[*]}"
tr '\r' '\n' <"$W/train.log" | grep -v '^$' | tail -n 2 | sed 's/^/    /'

# --- 5. the stage's config: compose/klabel.properties, two keys rewritten ------
PROPS="$W/klabel.properties"
sed -e "s|^kafka\.bootstrap\.servers=.*|kafka.bootstrap.servers=$BS|" \
    -e "s|^model\.path=.*|model.path=$MODEL|" "$HERE/klabel.properties" >"$PROPS"
grep -qx "kafka.bootstrap.servers=$BS" "$PROPS" || die "compose/klabel.properties has no kafka.bootstrap.servers line"
grep -qx "model.path=$MODEL" "$PROPS" || die "compose/klabel.properties has no model.path line"
for k in input.topics output.topic dlq.topic; do
    grep -q "^$k=" "$PROPS" || die "compose/klabel.properties has no $k"
done
grep -qx "output.topic=$OUTPUT_TOPIC" "$PROPS" || die "output.topic is not $OUTPUT_TOPIC"
grep -qx "dlq.topic=$DLQ_TOPIC" "$PROPS" || die "dlq.topic is not $DLQ_TOPIC"
grep -q "^input.topics=.*\b$INPUT_TOPIC\b" "$PROPS" || die "input.topics lacks $INPUT_TOPIC"

# --- 6. consumer: reads labels (and the dead letters) from the beginning -------
# The input topic is read back too, only for its record times (latency).
consume() {  # consume TOPIC OUT [options]: console consumer in the background
    "${TOOLS[@]}" org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$BS" \
        --topic "$1" --from-beginning --property print.key=true \
        --property "key.separator=	" "${@:3}" >"$2" 2>"$2.err" </dev/null &
    CONS_PIDS+=($!)
}
consume "$OUTPUT_TOPIC" "$W/results.txt" --property print.timestamp=true
consume "$DLQ_TOPIC" "$W/dlq.txt" --property print.headers=true
consume "$INPUT_TOPIC" "$W/inputs.txt" --property print.timestamp=true

# --- 7. klabel: the stage (service `klabel`) -------------------------------------
t_run=$(now_ms)
"$KL_BIN" run -c "$PROPS" >"$W/klabel.log" 2>&1 &
KL_PID=$!
sleep 0.5
kill -0 "$KL_PID" 2>/dev/null || { wait "$KL_PID" || true; die "klabel run exited at start"; }
say "klabel run started (pid $KL_PID)"
# Produce once the stage holds its partitions, so the latency printed at the
# end is the stage's and not the consumer group's first join. (Only timing
# depends on this log line: without it we go on after 30 s.)
for _ in $(seq 300); do
    grep -q 'assigned [1-9]' "$W/klabel.log" && break
    kill -0 "$KL_PID" 2>/dev/null || { wait "$KL_PID" || true; die "klabel run exited before joining its group"; }
    sleep 0.1
done
if grep -q 'assigned [1-9]' "$W/klabel.log"; then
    timed "klabel start -> partitions assigned" "$t_run"
    say "klabel joined group $(sed -n 's/^group\.id=//p' "$PROPS"): $(grep -o 'assigned [0-9]* partition.*' "$W/klabel.log" | head -n1)"
else
    say "klabel logged no partition assignment within 30 s; producing anyway"
fi

# --- 8. producer: the held-out headlines + $BAD bad records onto $INPUT_TOPIC ---
t_prod=$(now_ms)
"${TOOLS[@]}" org.apache.kafka.tools.ConsoleProducer --bootstrap-server "$BS" --topic "$INPUT_TOPIC" \
    --property parse.key=true --property "key.separator=	" \
    --producer-property acks=all --producer-property linger.ms=5 \
    <"$W/data/events.txt" >"$W/produce.log" 2>&1 || die "the console producer failed"
timed "produce $N events + $BAD bad" "$t_prod"
say "produced $N headlines + $BAD bad records to $INPUT_TOPIC"

# --- 9. wait for every result and dead letter -----------------------------------
t_first=""
deadline=$(($(now_ms) + TIMEOUT * 1000))
while :; do
    got=$(wc -l <"$W/results.txt")
    dl=$(wc -l <"$W/dlq.txt")
    [[ -z "$t_first" && "$got" -gt 0 ]] && t_first=$(now_ms)
    ((got >= N && dl >= BAD)) && break
    kill -0 "$KL_PID" 2>/dev/null || { wait "$KL_PID" && rc=0 || rc=$?; KL_PID=""; die "klabel exited (status $rc) with $got/$N results"; }
    for p in "${CONS_PIDS[@]}"; do
        kill -0 "$p" 2>/dev/null || die "a console consumer exited (see $W/*.err)"
    done
    (($(now_ms) < deadline)) || die "only $got/$N results and $dl/$BAD dead letters after ${TIMEOUT} s"
    sleep 0.1
done
t_all=$(now_ms)
TIMING+=("$(printf '  %-36s %9s s' "produce start -> first result" "$(secs $((t_first - t_prod)))")")
TIMING+=("$(printf '  %-36s %9s s' "produce start -> all $N results" "$(secs $((t_all - t_prod)))")")
say "all $N results and $BAD dead letters arrived"

# --- 10. stop the stage: SIGTERM, it must drain and exit 0 ----------------------
t=$(now_ms)
kill -TERM "$KL_PID"
rc=0
for _ in $(seq 300); do kill -0 "$KL_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$KL_PID" 2>/dev/null; then
    die "klabel did not exit within 30 s of SIGTERM"
fi
wait "$KL_PID" || rc=$?
KL_PID=""
((rc == 0)) || die "klabel exited with status $rc on SIGTERM (expected 0)"
timed "klabel SIGTERM -> exit 0" "$t"
say "klabel exited 0 on SIGTERM"
sleep 1  # anything the stage flushed while stopping reaches the consumers
for p in "${CONS_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
for p in "${CONS_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
CONS_PIDS=()

# --- 11. results -------------------------------------------------------------------
echo
"$PY" "$HERE/thucnews.py" score "$W/data/truth.tsv" "$W/results.txt" --events "$W/data/events.txt" \
    --inputs "$W/inputs.txt" --dlq "$W/dlq.txt" --bad "$BAD" --show 10 --min-accuracy "$MIN_ACC" || die "the results do not check out"
echo
echo "timings:"
printf '%s\n' "${TIMING[@]}"
echo "  (the console producer's JVM start is part of 'produce'; the stage's own"
echo "   rates and latencies are in its summary line:)"
grep 'summary:' "$W/klabel.log" | sed 's/^/  /' || true
t=$(now_ms)
bash "$BROKER" stop "$W/broker"
printf '  %-36s %9s s\n' "broker stop" "$(secs $(($(now_ms) - t)))"
printf '  %-36s %9s s\n' "total" "$(secs "$(now_ms)")"
say "stack OK"
