# t_metrics.sh: metrics and health over HTTP on a real broker, and the
# configuration checks at start (sourced by run.sh).
#   metrics_counts:   2,000 events + 7 bad ones; /metrics counters equal what
#                     was produced, lag gauges reach 0, `promtool check
#                     metrics` accepts the page, /readyz 200 after assignment.
#                     With stage.source.rt.priority=7 where it is permitted
#                     (root or ulimit -r >= 7): the source thread alone runs
#                     under SCHED_FIFO 7; where not, that start fails at once
#                     naming the key and `ulimit -r`.
#   metrics_watchdog: a stalled worker (debug.worker.stall.ms) turns /healthz
#                     503 within watchdog.ms + margin and 200 again after;
#                     the stage logs each transition once.
#   metrics_watchdog_w0: the same with workers=0 (the batch stalls on the
#                     source thread; the HTTP thread still answers 503).
#   metrics_config:   unknown keys, bad values, missing keys and a bad
#                     metrics.bind exit 2 naming the key; --help and
#                     docs/configuration.md list every key, and every key the
#                     code reads is declared.
#   metrics_port_busy: a metrics.port in use stops the start with a reason.

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# http_get PORT PATH OUTFILE: prints the HTTP status (000 when no answer)
http_get() {
    curl -s -m 5 -o "$3" -w '%{http_code}' "http://127.0.0.1:$1$2" 2>/dev/null || true
}

# wait_status PORT PATH WANT TIMEOUT_S: until PATH answers WANT
wait_status() {
    local deadline=$(( $(date +%s) + $4 )) code
    while :; do
        code=$(http_get "$1" "$2" "$WORK/wait.body")
        [ "$code" = "$3" ] && return 0
        if [ "$(date +%s)" -ge "$deadline" ]; then
            echo "it: $2 still answers $code (want $3) after $4 s: $(cat "$WORK/wait.body" 2>/dev/null)"; return 1
        fi
        sleep 0.2
    done
}

# metric FILE SAMPLE: the value of one exact sample line ("name{labels}"), or "none"
metric() {
    awk -v k="$2" '$1 == k { v = $2 } END { print (v == "" ? "none" : v) }' "$1"
}

# rt_permitted PRIO: 0 when this shell's processes may use SCHED_FIFO PRIO
rt_permitted() {
    local r
    [ "$(id -u)" = 0 ] && return 0
    r=$(ulimit -r)
    [ "$r" = unlimited ] || [ "$r" -ge "$1" ]
}

# check_rt_threads PID PRIO: the thread PID (the source loop runs on the
# main thread) is under SCHED_FIFO PRIO, every other thread of PID is not.
check_rt_threads() {
    local pid=$1 prio=$2 t f raised=0 others=0 bad=""
    for t in /proc/"$pid"/task/*; do
        # after "(comm) ": field 3 is $1, so rt_priority (40) is $38 and
        # policy (41) is $39
        f=$(sed 's/.*) //' "$t/stat" | awk '{ print $38, $39 }')
        if [ "${t##*/}" = "$pid" ]; then
            [ "$f" = "$prio 1" ] && raised=1 || bad="$bad main:$f"
        else
            others=$((others + 1))
            [ "$f" = "0 0" ] || bad="$bad $(cat "$t/comm"):$f"
        fi
    done
    [ "$raised" = 1 ] && [ -z "$bad" ] && [ "$others" -gt 2 ] \
        || { echo "it: thread policies (rt_priority policy):$bad; $others other threads"; return 1; }
    log "source thread under SCHED_FIFO $prio, $others other threads under the normal policy"
}

test_metrics_counts() {
    local in=it-met-in out=it-met-out grp=it-met-group port n=2000 bad=7 code i rt=0
    port=$(free_port)
    kt_topics "$in" 3 "$out" 2 "$out-dlq" 1 || return 1
    write_conf metrics "$in" "$out" "$grp"
    cat >> "$WORK/metrics.properties" <<EOF
metrics.port=$port
metrics.stats.interval.ms=500
EOF
    if rt_permitted 7; then
        echo "stage.source.rt.priority=7" >> "$WORK/metrics.properties"
        rt=1
    else
        # Not permitted here: asking for it must stop the start at once.
        "$KL_BIN" run -c "$WORK/metrics.properties" -X stage.source.rt.priority=7 \
            > "$WORK/rt.out" 2>&1 && { echo "it: stage started with a refused rt priority"; return 1; }
        grep -q 'stage.source.rt.priority=7: .*ulimit -r' "$WORK/rt.out" \
            || { echo "it: rt refusal: $(cat "$WORK/rt.out")"; return 1; }
        log "stage.source.rt.priority=7 not permitted here: refused at start"
    fi
    start_stage metrics
    wait_status "$port" /healthz 200 20 || { tail -20 "$WORK/metrics.log"; return 1; }
    wait_status "$port" /readyz 200 30 || { tail -20 "$WORK/metrics.log"; return 1; }
    if [ "$rt" = 1 ]; then check_rt_threads "$STAGE_PID" 7 || return 1; fi
    code=$(http_get "$port" /nope "$WORK/m.404")
    [ "$code" = 404 ] || { echo "it: /nope answered $code"; return 1; }
    head -n "$n" "$WORK/events.txt" > "$WORK/metrics.in"
    for i in $(seq 1 $bad); do printf 'bad-%d\t{"id":%d,"text":\n' "$i" "$i"; done >> "$WORK/metrics.in"
    kt_produce "$in" "$WORK/metrics.in" || return 1
    kt_wait_lag_zero "$grp" "$in" $((n + bad)) 120 || { tail -20 "$WORK/metrics.log"; return 1; }
    # The lag gauges come from librdkafka's statistics after the commit.
    local deadline=$(( $(date +%s) + 20 )) lagged
    while :; do
        http_get "$port" /metrics "$WORK/metrics.txt" >/dev/null
        lagged=$(awk '/^klabel_consumer_lag\{/ { n++; if ($2 != 0) bad++ } END { print n + 0, bad + 0 }' "$WORK/metrics.txt")
        [ "$lagged" = "3 0" ] && break
        if [ "$(date +%s)" -ge "$deadline" ]; then
            echo "it: lag series (count, non-zero) = $lagged, want 3 0"; grep consumer_lag "$WORK/metrics.txt"; return 1
        fi
        sleep 0.5
    done
    local want
    for want in "klabel_events_in_total $((n + bad))" \
                "klabel_results_out_total $n" \
                "klabel_dead_letters_total{class=\"malformed\"} $bad" \
                "klabel_consume_to_produce_seconds_count $((n + bad))" \
                "klabel_model_info{model=\"thucnews\",version=\"it-1\"} 1" \
                "klabel_inflight 0" "klabel_up 1" "klabel_healthy 1" "klabel_ready 1" \
                "klabel_consumer_lag{topic=\"$in\",partition=\"2\"} 0"; do
        local k=${want% *} v=${want##* } got
        got=$(metric "$WORK/metrics.txt" "$k")
        [ "$got" = "$v" ] || { echo "it: $k = $got, want $v"; return 1; }
    done
    # Batches: their sizes add up to the events that went through a model.
    local batches sizes
    batches=$(awk '/^klabel_batches_total\{/ { s += $2 } END { print s + 0 }' "$WORK/metrics.txt")
    sizes=$(metric "$WORK/metrics.txt" klabel_batch_size_sum)
    [ "$batches" -gt 0 ] && [ "$(metric "$WORK/metrics.txt" klabel_batch_size_count)" = "$batches" ] \
        || { echo "it: $batches batches counted by reason, batch_size_count $(metric "$WORK/metrics.txt" klabel_batch_size_count)"; return 1; }
    log "$batches batches of $sizes events; close reasons: $(grep '^klabel_batches_total{' "$WORK/metrics.txt" | tr '\n' ' ')"
    local promtool
    promtool=$(bash "$HERE/promtool.sh") || { echo "it: no promtool"; return 1; }
    "$promtool" check metrics < "$WORK/metrics.txt" > "$WORK/promtool.out" 2>&1 \
        || { echo "it: promtool check metrics failed:"; cat "$WORK/promtool.out"; return 1; }
    log "promtool check metrics: ok ($(grep -c '^# TYPE' "$WORK/metrics.txt") families, $(grep -vc '^#' "$WORK/metrics.txt") samples)"
    stop_stage || { echo "it: stage exit code $? after SIGTERM (want 0)"; tail -20 "$WORK/metrics.log"; return 1; }
    code=$(http_get "$port" /healthz "$WORK/m.gone")
    [ "$code" = 000 ] || { echo "it: /healthz still answers $code after exit"; return 1; }
}

watchdog_run() { # NAME WORKERS
    local name=$1 in=it-$1-in out=it-$1-out grp=it-$1-group port code t0 t_bad t_ok
    port=$(free_port)
    kt_topics "$in" 1 "$out" 1 "$out-dlq" 1 || return 1
    write_conf "$name" "$in" "$out" "$grp"
    cat >> "$WORK/$name.properties" <<EOF
metrics.port=$port
watchdog.ms=1000
debug.worker.stall.ms=4000
workers=$2
EOF
    start_stage "$name"
    wait_status "$port" /readyz 200 30 || { tail -20 "$WORK/$name.log"; return 1; }
    code=$(http_get "$port" /healthz "$WORK/$name.body")
    [ "$code" = 200 ] || { echo "it: /healthz $code before any event"; return 1; }
    head -n 20 "$WORK/events.txt" | kt_produce "$in" /dev/stdin || return 1
    # The events reach the worker within a second or so of the producer's
    # exit; it then sleeps 4 s before its batch: 503 after watchdog.ms.
    t0=$(date +%s.%N)
    wait_status "$port" /healthz 503 5 || { tail -20 "$WORK/$name.log"; return 1; }
    t_bad=$(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t0}")
    grep -q 'made no progress for' "$WORK/wait.body" || { echo "it: 503 body: $(cat "$WORK/wait.body")"; return 1; }
    log "/healthz 503 ${t_bad} s after the input was produced: $(cat "$WORK/wait.body")"
    wait_status "$port" /healthz 200 20 || { tail -20 "$WORK/$name.log"; return 1; }
    t_ok=$(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t0}")
    log "/healthz 200 again after ${t_ok} s"
    kt_wait_lag_zero "$grp" "$in" 20 30 || return 1
    stop_stage || { echo "it: stage exit code $? after SIGTERM (want 0)"; return 1; }
    local nbad nok
    nbad=$(grep -c 'health: unhealthy: model worker' "$WORK/$name.log")
    nok=$(grep -c 'health: healthy again' "$WORK/$name.log")
    [ "$nbad" -ge 1 ] && [ "$nbad" -eq "$nok" ] \
        || { echo "it: $nbad 'unhealthy' and $nok 'healthy again' log lines"; grep health: "$WORK/$name.log"; return 1; }
    # Each transition is logged once per stall, never repeated while it
    # lasts: at most one 'unhealthy' line per batch (each batch stalls; the
    # 20 events may arrive, and so be batched, in a few polls).
    local nbatches
    nbatches=$(grep -o 'batches=[0-9]*' "$WORK/$name.log" | tail -n 1 | cut -d= -f2)
    [ -n "$nbatches" ] && [ "$nbad" -le "$nbatches" ] \
        || { echo "it: $nbad 'unhealthy' lines for ${nbatches:-?} stalled batches"; return 1; }
    log "$nbad unhealthy/healthy transitions for $nbatches stalled batch(es)"
}

test_metrics_watchdog() { watchdog_run watchdog 1; }
# workers=0: the batch stalls on the source thread itself; the watchdog
# (on the HTTP server's thread) must see it all the same.
test_metrics_watchdog_w0() { watchdog_run watchdog0 0; }

# run_bad NAME EXPECT_KEY: `klabel run -c $WORK/NAME.properties` must exit 2 naming EXPECT_KEY
run_bad() {
    local rc=0
    timeout 20 "$KL_BIN" run -c "$WORK/$1.properties" > "$WORK/$1.out" 2>&1 || rc=$?
    [ "$rc" -eq 2 ] || { echo "it: $1: exit $rc (want 2): $(cat "$WORK/$1.out")"; return 1; }
    grep -q "$2" "$WORK/$1.out" || { echo "it: $1: '$2' not named: $(cat "$WORK/$1.out")"; return 1; }
}

test_metrics_config() {
    write_conf cfg_ok it-cfg-in it-cfg-out it-cfg-group
    { cat "$WORK/cfg_ok.properties"; echo "metrics.prot=9464"; } > "$WORK/cfg_unknown.properties"
    { cat "$WORK/cfg_ok.properties"; echo "metrics.port=70000"; } > "$WORK/cfg_range.properties"
    { cat "$WORK/cfg_ok.properties"; echo "watchdog.ms=soon"; } > "$WORK/cfg_int.properties"
    grep -v '^output.topic=' "$WORK/cfg_ok.properties" > "$WORK/cfg_missing.properties"
    { cat "$WORK/cfg_ok.properties"; echo "metrics.port=9"; echo "metrics.bind=no-such-host.invalid"; } > "$WORK/cfg_bind.properties"
    run_bad cfg_unknown "'metrics.prot'" || return 1
    run_bad cfg_range "metrics.port" || return 1
    run_bad cfg_int "watchdog.ms" || return 1
    run_bad cfg_missing "output.topic" || return 1
    run_bad cfg_bind "metrics.bind=no-such-host.invalid" || return 1
    local rc=0
    timeout 20 "$KL_BIN" run -c "$WORK/cfg_ok.properties" -X bogus.key=1 > "$WORK/cfg_x.out" 2>&1 || rc=$?
    [ "$rc" -eq 2 ] && grep -q "bogus.key" "$WORK/cfg_x.out" || { echo "it: -X bogus.key: exit $rc: $(cat "$WORK/cfg_x.out")"; return 1; }
    # --help and docs/configuration.md come from the same table.
    "$KL_BIN" run --help > "$WORK/help.txt" || return 1
    "$KL_BIN" config --markdown > "$WORK/configuration.md" || return 1
    local keys k missing=0
    keys=$(sed -n 's/^| `\([^`]*\)` |.*/\1/p' "$WORK/configuration.md")
    [ "$(echo "$keys" | wc -l)" -ge 20 ] || { echo "it: only $(echo "$keys" | wc -l) keys in the markdown"; return 1; }
    for k in $keys; do
        grep -q "^  $k " "$WORK/help.txt" || { echo "it: $k missing from klabel run --help"; missing=1; }
    done
    for k in metrics.port metrics.bind metrics.stats.interval.ms watchdog.ms debug.worker.stall.ms; do
        echo "$keys" | grep -qx "$k" || { echo "it: $k is not in the table"; missing=1; }
    done
    # Every key the code reads with a literal name, f(cfg, "key"), is declared.
    for k in $(grep -oh '(c\?fg, *"[a-z][a-z0-9._<>-]*"' "$REPO"/plugin/*.c | sed 's/.*"\(.*\)"/\1/' | sort -u); do
        echo "$keys" | grep -qxF "$k" || { echo "it: the code reads '$k', which is not declared in plugin/config_keys.c"; missing=1; }
    done
    [ "$missing" -eq 0 ] || return 1
    diff -u "$REPO/docs/configuration.md" "$WORK/configuration.md" > "$WORK/configuration.diff" \
        || { echo "it: docs/configuration.md is stale; regenerate: klabel config --markdown > docs/configuration.md"; head -20 "$WORK/configuration.diff"; return 1; }
}

test_metrics_port_busy() {
    local port rc=0 holder
    port=$(free_port)
    rm -f "$WORK/busy.ready"
    python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
open(sys.argv[2], "w").close(); time.sleep(60)' "$port" "$WORK/busy.ready" &
    holder=$!
    local i
    for i in $(seq 1 100); do [ -e "$WORK/busy.ready" ] && break; sleep 0.1; done
    [ -e "$WORK/busy.ready" ] || { echo "it: the port holder did not start"; kill "$holder"; return 1; }
    write_conf busy it-busy-in it-busy-out it-busy-group
    echo "metrics.port=$port" >> "$WORK/busy.properties"
    timeout 30 "$KL_BIN" run -c "$WORK/busy.properties" > "$WORK/busy.out" 2>&1 || rc=$?
    kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null
    [ "$rc" -eq 1 ] || { echo "it: exit $rc with metrics.port in use (want 1): $(cat "$WORK/busy.out")"; return 1; }
    grep -q "cannot listen on 127.0.0.1 port $port" "$WORK/busy.out" || { echo "it: no reason: $(cat "$WORK/busy.out")"; return 1; }
}

register metrics_counts test_metrics_counts
register metrics_watchdog test_metrics_watchdog
register metrics_watchdog_w0 test_metrics_watchdog_w0
register metrics_config test_metrics_config
register metrics_port_busy test_metrics_port_busy
