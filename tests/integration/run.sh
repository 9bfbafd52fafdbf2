#!/usr/bin/env bash
# run.sh: integration tests of `klabel run` against a real Apache Kafka
# broker (Kafka 4.x in KRaft mode, started by tests/kafka/broker.sh on
# 127.0.0.1). Events are real THUCNews headlines; they are produced and the
# results read back with Kafka's own console tools, so nothing here shares
# code with the stage under test.
#
#   Tests live in t_*.sh beside this script (see t_basic.sh); shared helpers
#   (write_conf, start_stage, stop_stage, kafka_tools.sh) are defined here.
#
# Env: KL_BIN (default build/klabel), KL_DATA_DIR (default .cache/data),
# KL_IT_ONLY (a regex: run only the tests it matches), KL_KEEP_WORK.
# Ends with a plain "N passed, N failed" line; exits 1 if any test failed.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
KL_BIN="$(cd "$REPO" && realpath "${KL_BIN:-build/klabel}")"
DATA_DIR="$(cd "$REPO" && realpath "${KL_DATA_DIR:-.cache/data}")"
TSV="$DATA_DIR/thucnews.tsv"
BROKER="$REPO/tests/kafka/broker.sh"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/klabel-it.XXXXXX")"
# shellcheck source=tests/integration/kafka_tools.sh
source "$HERE/kafka_tools.sh"

passed=0
failed=0
STAGE_PID=""

log() { echo "[it $(date +%T)] $*"; }

cleanup() {
    [ -n "$STAGE_PID" ] && kill -9 "$STAGE_PID" 2>/dev/null
    bash "$BROKER" stop "$WORK/broker" >/dev/null 2>&1
    if [ "$failed" -eq 0 ] && [ -z "${KL_KEEP_WORK:-}" ]; then rm -rf "$WORK"; else echo "it: work dir kept: $WORK"; fi
}
trap cleanup EXIT

[ -x "$KL_BIN" ] || { echo "it: no klabel binary at $KL_BIN (run make)"; echo "0 passed, 1 failed"; exit 1; }
[ -s "$TSV" ] || { echo "it: no data at $TSV (run tests/data/fetch.sh)"; echo "0 passed, 1 failed"; exit 1; }

log "starting a real Kafka broker"
t0=$(date +%s)
BS=$(bash "$BROKER" start "$WORK/broker") || { echo "it: broker did not start"; echo "0 passed, 1 failed"; exit 1; }
log "broker at $BS after $(( $(date +%s) - t0 )) s"
kt_init "$BS"

# One model for all tests: trained on 4 of every 5 lines; every 5th line is held out.
awk 'NR % 5 != 0' "$TSV" > "$WORK/train.tsv"
cut -f1 "$TSV" | sort -u > "$WORK/labels.txt"
log "training the model"
"$KL_BIN" train -q -i "$WORK/train.tsv" -o "$WORK/model.safetensors" --id thucnews --version it-1 \
    --tokenizer unicode --word-ngrams 2 --dim 64 --epoch 10 --lr 0.5 >"$WORK/train.log" 2>&1 \
    || { cat "$WORK/train.log"; echo "0 passed, 1 failed"; exit 1; }
python3 "$HERE/make_events.py" "$TSV" --events "$WORK/events.txt" --truth "$WORK/truth.txt" >/dev/null \
    || { echo "0 passed, 1 failed"; exit 1; }
NEVENTS=$(wc -l < "$WORK/events.txt")
log "$NEVENTS events ready"

# write_conf NAME IN OUT GROUP: a stage config in $WORK/NAME.properties
write_conf() {
    cat > "$WORK/$1.properties" <<EOF
# integration test $1
kafka.bootstrap.servers=$BS
input.topics=$2
output.topic=$3
group.id=$4
model.path=$WORK/model.safetensors
dlq.topic=$3-dlq
batch.max.size=256
batch.max.delay.us=2000
kafka.consumer.auto.commit.interval.ms=500
# a SIGKILLed member leaves the group after 6 s instead of 45 s
kafka.consumer.session.timeout.ms=6000
kafka.consumer.heartbeat.interval.ms=1000
log.level=info
EOF
}

start_stage() { # NAME: runs the stage in the background, logging to $WORK/NAME.log
    "$KL_BIN" run -c "$WORK/$1.properties" >>"$WORK/$1.log" 2>&1 &
    STAGE_PID=$!
}

stop_stage() { # SIGTERM, wait up to 30 s; returns the stage's exit code
    local pid=$STAGE_PID i
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then echo "it: stage did not exit 30 s after SIGTERM"; kill -9 "$pid"; fi
    wait "$pid"; local rc=$?
    STAGE_PID=""
    return $rc
}

run_test() { # NAME FUNCTION
    log "--- $1"
    if "$2"; then passed=$((passed + 1)); log "PASS $1"; else failed=$((failed + 1)); log "FAIL $1"; fi
}

# Every t_*.sh beside this script defines test functions and registers
# them with `register NAME FUNCTION`; they run in file-name order.
TESTS=()
register() { TESTS+=("$1:$2"); }
for f in "$HERE"/t_*.sh; do
    # shellcheck source=/dev/null
    source "$f"
done
only="${KL_IT_ONLY:-}"   # run only tests whose name matches this regex
for t in "${TESTS[@]}"; do
    name=${t%%:*}
    [[ -z "$only" || "$name" =~ $only ]] || continue
    run_test "$name" "${t#*:}"
done

echo "integration: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
