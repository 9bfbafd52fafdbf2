# t_basic.sh: the stage end to end on a real broker (sourced by run.sh).
#   all_once: 10,000 events; every id exactly once, SIGTERM exits 0, lag 0.
#   kill9:    SIGKILL mid-stream and restart; every id at least once.
#   term_midstream: SIGTERM mid-stream exits 0 within shutdown.timeout.ms
#             (default 10 s) plus 2 s, and after a restart every id is
#             there exactly once (a graceful stop commits exactly what it
#             delivered).
#   allocator: the binary's jemalloc runs with klabel's settings
#             (plugin/main.c: oversize_threshold 0, one arena).

test_all_once() {
    local in=it-news-1 out=it-labels-1 grp=it-group-1
    kt_topics "$in" 3 "$out" 3 "$out-dlq" 1 || return 1
    kt_produce "$in" "$WORK/events.txt" || return 1
    write_conf all_once "$in" "$out" "$grp"
    local t0; t0=$(date +%s.%N)
    start_stage all_once
    kt_wait_lag_zero "$grp" "$in" "$NEVENTS" 180 || { tail -20 "$WORK/all_once.log"; return 1; }
    log "stage drained $NEVENTS events in $(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t0}") s (incl. group join and lag polling)"
    stop_stage || { echo "it: stage exit code $? after SIGTERM (want 0)"; tail -20 "$WORK/all_once.log"; return 1; }
    kt_wait_lag_zero "$grp" "$in" "$NEVENTS" 10 || return 1
    kt_consume_all "$out" "$WORK/out1.txt" || return 1
    python3 "$HERE/verify.py" "$WORK/out1.txt" --truth "$WORK/truth.txt" --labels "$WORK/labels.txt" \
        --exactly-once --topic "$in" --min-accuracy 0.75 || return 1
    local dlq; dlq=$(kt_count "$out-dlq")
    [ "$dlq" -eq 0 ] || { echo "it: $dlq records in the DLQ for good input"; return 1; }
}

# Produces the events into TOPIC in the background at about 2,500/s (100
# every 40 ms), so that what a test does to the stage lands mid-stream;
# sets TRICKLE_PID.
trickle_events() { # TOPIC
    python3 -c '
import sys, time
lines = open(sys.argv[1], encoding="utf-8").readlines()
for i in range(0, len(lines), 100):
    sys.stdout.write("".join(lines[i:i + 100])); sys.stdout.flush(); time.sleep(0.04)
' "$WORK/events.txt" | kt_produce "$1" /dev/stdin &
    TRICKLE_PID=$!
}

# Waits for the first result in TOPIC, then half a second more; fails when
# the trickle has already ended (nothing would be mid-stream).
wait_midstream() { # TOPIC WHAT
    local n=0 _
    for _ in $(seq 1 300); do n=$(kt_count "$1"); [ "$n" -gt 0 ] && break; sleep 0.2; done
    sleep 0.5
    kill -0 "$TRICKLE_PID" 2>/dev/null || { echo "it: input was fully produced before the $2; not mid-stream"; return 1; }
}

# After the stage NAME was stopped mid-stream: fewer than all results are
# out; then a restart drains IN, stops with exit 0, and OUT holds every id
# as MODE (--exactly-once / --at-least-once) says.
restart_and_verify() { # NAME IN OUT GROUP MODE
    local n; n=$(kt_count "$3")
    [ "$n" -lt "$NEVENTS" ] || { echo "it: all results were out before the stop"; return 1; }
    start_stage "$1"
    wait "$TRICKLE_PID" || { echo "it: producer failed"; return 1; }
    kt_wait_lag_zero "$4" "$2" "$NEVENTS" 180 || { tail -20 "$WORK/$1.log"; return 1; }
    stop_stage || { echo "it: stage exit code $? after SIGTERM (want 0)"; return 1; }
    kt_consume_all "$3" "$WORK/$1.out" || return 1
    python3 "$HERE/verify.py" "$WORK/$1.out" --truth "$WORK/truth.txt" --labels "$WORK/labels.txt" \
        "$5" --topic "$2" --min-accuracy 0.75 || return 1
}

test_kill9() {
    local in=it-news-2 out=it-labels-2 grp=it-group-2
    kt_topics "$in" 3 "$out" 3 "$out-dlq" 1 || return 1
    write_conf kill9 "$in" "$out" "$grp"
    start_stage kill9
    trickle_events "$in"
    wait_midstream "$out" kill || return 1
    kill -9 "$STAGE_PID"; wait "$STAGE_PID" 2>/dev/null; STAGE_PID=""
    log "killed the stage with SIGKILL after $(kt_count "$out") results, input still arriving"
    restart_and_verify kill9 "$in" "$out" "$grp" --at-least-once
}

test_term_midstream() {
    local in=it-news-term out=it-labels-term grp=it-group-term t0 rc secs
    kt_topics "$in" 3 "$out" 3 "$out-dlq" 1 || return 1
    write_conf term_midstream "$in" "$out" "$grp"
    start_stage term_midstream
    trickle_events "$in"
    wait_midstream "$out" stop || return 1
    t0=$(date +%s.%N)
    stop_stage; rc=$?
    [ "$rc" -eq 0 ] || { echo "it: stage exit code $rc after SIGTERM mid-stream (want 0)"; tail -20 "$WORK/term_midstream.log"; return 1; }
    secs=$(awk "BEGIN{printf \"%.2f\", $(date +%s.%N) - $t0}")
    log "stopped the stage with SIGTERM after $(kt_count "$out") results in $secs s, input still arriving"
    awk "BEGIN{exit !($secs <= 12)}" || { echo "it: SIGTERM took $secs s (shutdown.timeout.ms is 10 s)"; return 1; }
    restart_and_verify term_midstream "$in" "$out" "$grp" --exactly-once
}

test_allocator() {
    if ! ldd "$KL_BIN" | grep -q libjemalloc; then
        log "klabel is linked with glibc's malloc (MALLOC_LIBS=, sanitizer builds): no jemalloc settings to check"
        return 0
    fi
    local stats; stats=$(MALLOC_CONF=stats_print:true "$KL_BIN" version 2>&1)
    grep -q "opt.oversize_threshold: 0$" <<<"$stats" ||
        { echo "it: jemalloc's oversize_threshold is not klabel's 0:"; grep oversize <<<"$stats"; return 1; }
    grep -q "opt.narenas: 1$" <<<"$stats" ||
        { echo "it: jemalloc's narenas is not klabel's 1:"; grep narenas <<<"$stats"; return 1; }
}

register all_once test_all_once
register kill9 test_kill9
register term_midstream test_term_midstream
register allocator test_allocator
