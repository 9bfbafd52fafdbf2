# t_codecs.sh: input and output codecs and dead letters on the real broker
# (sourced by run.sh). Inputs that Kafka's console tools cannot write (Avro
# in the Confluent wire format, invalid UTF-8, null values) are produced,
# and results and dead letters read back with their headers, by
# codec_tool.py (confluent-kafka + fastavro in the reference venv).
#   codec_avro_registry  Avro in (schema fetched by id from a Schema
#                        Registry with basic auth), Avro out (schema
#                        registered at start, Confluent framing), explanations
#   codec_avro_dir       Avro in (schema.registry.dir), JSON out with the text
#   codec_raw            raw UTF-8 text in, JSON out
#   dlq_json             13 kinds of bad JSON interleaved with good events:
#                        each dead-lettered once with its class and source
#                        headers, every good one labeled, lag 0
#   dlq_avro             14 kinds of bad Avro input, the same checks
#   dlq_unavailable      the DLQ topic does not exist: the stage stops, says
#                        so and does not commit past the bad record; once the
#                        topic exists a restart dead-letters it
# The Schema Registry is tests/integration/registry_stub.py: Karapace, the
# registry named for these tests, is not on PyPI (see docs/formats.md).

CT_PY=""
ct_py() { # the reference venv's python (created once)
    [ -n "$CT_PY" ] || CT_PY=$(bash "$REPO/tests/ref/venv.sh") || return 1
    echo "$CT_PY"
}
ct() { "$(ct_py)" "$HERE/codec_tool.py" "$@"; }

REG_PID=""
reg_start() { # USER:PASS -> sets REG_PORT; log in $WORK/registry.log
    rm -f "$WORK/registry.port"
    "$(ct_py)" "$HERE/registry_stub.py" --port-file "$WORK/registry.port" \
        --log "$WORK/registry.log" --user "$1" &
    REG_PID=$!
    local i
    for i in $(seq 1 100); do [ -s "$WORK/registry.port" ] && break; sleep 0.1; done
    REG_PORT=$(cat "$WORK/registry.port" 2>/dev/null)
    [ -n "$REG_PORT" ] || { echo "it: registry stub did not start"; return 1; }
}
reg_stop() { [ -n "$REG_PID" ] && kill "$REG_PID" 2>/dev/null; wait "$REG_PID" 2>/dev/null; REG_PID=""; }

# ct_run NAME IN GROUP NRECORDS: starts the stage, waits for lag 0, stops it (exit 0)
ct_run() {
    start_stage "$1"
    kt_wait_lag_zero "$3" "$2" "$4" 120 || { tail -20 "$WORK/$1.log"; stop_stage; return 1; }
    stop_stage || { echo "it: stage exit code $? after SIGTERM (want 0)"; tail -20 "$WORK/$1.log"; return 1; }
}

test_codec_avro_registry() {
    local in=it-avro-in out=it-avro-out grp=it-avro-grp n=2000 auth="klabel:s3cr3t-pw" sid rid
    kt_topics "$in" 3 "$out" 3 "$out-dlq" 1 || return 1
    reg_start "$auth" || return 1
    # register the input schema the way a Confluent producer does
    sid=$(curl -sf -u "$auth" -H 'Content-Type: application/vnd.schemaregistry.v1+json' \
        --data "$("$(ct_py)" -c 'import json,sys; print(json.dumps({"schema": open(sys.argv[1]).read()}))' \
                  "$REPO/schemas/text_event.avsc")" \
        "http://127.0.0.1:$REG_PORT/subjects/$in-value/versions" | "$(ct_py)" -c 'import json,sys; print(json.load(sys.stdin)["id"])') \
        || { echo "it: registering the input schema failed"; reg_stop; return 1; }
    ct spec-avro "$WORK/events.txt" "$sid" "$WORK/avro.spec" --count "$n" >/dev/null || { reg_stop; return 1; }
    ct produce "$BS" "$in" "$WORK/avro.spec" "$WORK/avro.placed" || { reg_stop; return 1; }
    write_conf avro_reg "$in" "$out" "$grp"
    cat >> "$WORK/avro_reg.properties" <<EOF2
input.format=avro
schema.registry.url=http://$auth@127.0.0.1:$REG_PORT/
output.format=avro
output.schema.register=true
output.explain=3
EOF2
    ct_run avro_reg "$in" "$grp" "$n" || { reg_stop; return 1; }
    rid=$(curl -sf -u "$auth" "http://127.0.0.1:$REG_PORT/subjects/$out-value/versions/latest" \
        | "$(ct_py)" -c 'import json,sys; print(json.load(sys.stdin)["id"])') \
        || { echo "it: the stage did not register $out-value"; reg_stop; return 1; }
    reg_stop
    ct consume "$BS" "$out" "$WORK/avro.results" --count "$n" || return 1
    echo -n > "$WORK/avro.dlq"
    ct check "$WORK/avro.spec" "$WORK/avro.placed" "$WORK/avro.results" "$WORK/avro.dlq" \
        --format avro --topic "$in" --schema-id "$rid" --explain 3 || return 1
    local fetched; fetched=$(grep -c "^GET /schemas/ids/$sid 200" "$WORK/registry.log")
    [ "$fetched" -eq 1 ] || { echo "it: schema $sid fetched $fetched times (want once)"; return 1; }
    if grep -q "s3cr3t" "$WORK/avro_reg.log"; then echo "it: the registry password is in the stage log"; return 1; fi
    [ "$(kt_count "$out-dlq")" -eq 0 ] || { echo "it: dead letters for good Avro input"; return 1; }
}

test_codec_avro_dir() {
    local in=it-avrodir-in out=it-avrodir-out grp=it-avrodir-grp n=1000
    kt_topics "$in" 2 "$out" 1 "$out-dlq" 1 || return 1
    mkdir -p "$WORK/schemas"
    cp "$REPO/schemas/text_event.avsc" "$WORK/schemas/17.avsc"
    ct spec-avro "$WORK/events.txt" 17 "$WORK/avrodir.spec" --count "$n" >/dev/null || return 1
    ct produce "$BS" "$in" "$WORK/avrodir.spec" "$WORK/avrodir.placed" || return 1
    write_conf avro_dir "$in" "$out" "$grp"
    printf 'input.format=avro\nschema.registry.dir=%s\noutput.include.text=true\n' "$WORK/schemas" \
        >> "$WORK/avro_dir.properties"
    ct_run avro_dir "$in" "$grp" "$n" || return 1
    ct consume "$BS" "$out" "$WORK/avrodir.results" --count "$n" || return 1
    echo -n > "$WORK/avrodir.dlq"
    ct check "$WORK/avrodir.spec" "$WORK/avrodir.placed" "$WORK/avrodir.results" "$WORK/avrodir.dlq" \
        --format json --topic "$in" --text || return 1
}

test_codec_raw() {
    local in=it-raw-in out=it-raw-out grp=it-raw-grp n=1000
    kt_topics "$in" 2 "$out" 2 "$out-dlq" 1 || return 1
    ct spec-raw "$WORK/events.txt" "$WORK/raw.spec" --count "$n" >/dev/null || return 1
    ct produce "$BS" "$in" "$WORK/raw.spec" "$WORK/raw.placed" || return 1
    write_conf raw "$in" "$out" "$grp"
    printf 'input.format=raw\noutput.include.text=true\n' >> "$WORK/raw.properties"
    ct_run raw "$in" "$grp" "$n" || return 1
    ct consume "$BS" "$out" "$WORK/raw.results" --count "$n" || return 1
    echo -n > "$WORK/raw.dlq"
    ct check "$WORK/raw.spec" "$WORK/raw.placed" "$WORK/raw.results" "$WORK/raw.dlq" \
        --format json --topic "$in" --text --raw-text || return 1
}

# ct_dlq NAME FORMAT: good events with every kind of bad input of FORMAT
# interleaved, one topic of 2 partitions; routing by kind (only "news" has
# a model) makes no_route; input.max.bytes=4096 makes oversize.
ct_dlq() {
    local name=$1 fmt=$2 in=it-$1-in out=it-$1-out grp=it-$1-grp ngood=400 total nbad
    kt_topics "$in" 2 "$out" 2 "$out-dlq" 1 || return 1
    mkdir -p "$WORK/schemas"
    cp "$REPO/schemas/text_event.avsc" "$WORK/schemas/17.avsc"
    ct no-text-schema > "$WORK/schemas/18.avsc" || return 1
    ct spec-dlq "$WORK/events.txt" "$fmt" 17 "$WORK/$name.spec" --count "$ngood" >/dev/null || return 1
    ct produce "$BS" "$in" "$WORK/$name.spec" "$WORK/$name.placed" || return 1
    total=$(wc -l < "$WORK/$name.spec")
    nbad=$((total - ngood))
    write_conf "$name" "$in" "$out" "$grp"
    sed -i '/^model.path=/d' "$WORK/$name.properties"
    cat >> "$WORK/$name.properties" <<EOF2
input.format=$fmt
schema.registry.dir=$WORK/schemas
input.max.bytes=4096
models=news
model.news.path=$WORK/model.safetensors
route.kind.news=news
route.default=none
EOF2
    ct_run "$name" "$in" "$grp" "$total" || return 1
    ct consume "$BS" "$out" "$WORK/$name.results" --count "$ngood" || return 1
    ct consume "$BS" "$out-dlq" "$WORK/$name.dlq" --count "$nbad" || return 1
    ct check "$WORK/$name.spec" "$WORK/$name.placed" "$WORK/$name.results" "$WORK/$name.dlq" \
        --format json --topic "$in" || return 1
    # nothing more than expected arrived later
    [ "$(kt_count "$out-dlq")" -eq "$nbad" ] || { echo "it: $(kt_count "$out-dlq") dead letters, want $nbad"; return 1; }
}
test_dlq_json() { ct_dlq dlq_json json; }
test_dlq_avro() { ct_dlq dlq_avro avro; }

test_dlq_unavailable() {
    local in=it-dlqu-in out=it-dlqu-out grp=it-dlqu-grp dlq=it-dlqu-missing rc lag bad_off
    kt_topics "$in" 1 "$out" 1 || return 1
    # 30 good events, one malformed, 30 good: all in partition 0
    { head -n 30 "$WORK/events.txt"; printf 'bad-1\t{"id": 1, "text": "unterminated\n'; sed -n 31,60p "$WORK/events.txt"; } \
        > "$WORK/dlqu.txt"
    kt_produce "$in" "$WORK/dlqu.txt" || return 1
    bad_off=30
    write_conf dlqu "$in" "$out" "$grp"
    cat >> "$WORK/dlqu.properties" <<EOF2
dlq.topic=$dlq
kafka.producer.allow.auto.create.topics=false
kafka.producer.message.timeout.ms=5000
EOF2
    start_stage dlqu
    local i
    for i in $(seq 1 600); do kill -0 "$STAGE_PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$STAGE_PID" 2>/dev/null; then
        echo "it: the stage still runs 60 s after its dead letter could not be written"; stop_stage; return 1
    fi
    wait "$STAGE_PID"; rc=$?; STAGE_PID=""
    [ "$rc" -ne 0 ] || { echo "it: the stage exited 0 although a dead letter was lost"; return 1; }
    grep -E "ERROR.*(delivery of dead letter|$dlq)" "$WORK/dlqu.log" | head -3
    grep -qE "ERROR.*dead letter.*$in\[0\]@$bad_off" "$WORK/dlqu.log" \
        || { echo "it: no error log naming the lost dead letter"; tail -20 "$WORK/dlqu.log"; return 1; }
    lag=$(kt_lag "$grp" "$in")
    if [ "$lag" != "-1" ] && [ "$lag" -lt $((61 - bad_off)) ]; then
        echo "it: offsets were committed past the undelivered dead letter (lag $lag)"; return 1
    fi
    log "stage stopped (exit $rc), lag $lag: nothing committed past offset $bad_off"
    # The topic appears; a restart dead-letters the record: nothing was dropped.
    kt_topics "$dlq" 1 || return 1
    ct_run dlqu "$in" "$grp" 61 || return 1
    [ "$(kt_count "$dlq")" -eq 1 ] || { echo "it: $(kt_count "$dlq") dead letters, want 1"; return 1; }
    [ "$(kt_count "$out")" -ge 60 ] || { echo "it: $(kt_count "$out") results, want >= 60"; return 1; }
}

register codec_avro_registry test_codec_avro_registry
register codec_avro_dir test_codec_avro_dir
register codec_raw test_codec_raw
register dlq_json test_dlq_json
register dlq_avro test_dlq_avro
register dlq_unavailable test_dlq_unavailable
