#!/usr/bin/env bash
# broker.sh - a real, single-node Apache Kafka broker (KRaft mode, no Docker,
# no ZooKeeper) on 127.0.0.1 for klabel's integration and fault tests.
#
# The broker's jars come from Maven Central through tests/kafka/pom.xml and are
# copied once into a cache folder ($KL_KAFKA_CACHE, else <repo>/.cache/kafka).
# Each broker lives in a folder of its own (DIR): its config, data, log, pid and
# bootstrap address are all there, so several can run side by side.
#
# Usage:
#   broker.sh fetch                    copy the broker's jars into the cache (once)
#   broker.sh start DIR                start a broker in DIR, print host:port
#   broker.sh stop DIR                 stop it (TERM, then KILL after 20 s); idempotent
#   broker.sh topic DIR NAME PARTS [NAME PARTS ...]
#                                      create topics (replication factor 1)
#   broker.sh status DIR               exit 0 if running and accepting connections
#
# `start DIR` on a fresh (or empty) DIR picks two free ports and formats new
# storage. On a DIR that already holds a broker that was stopped, it restarts
# that broker with the same ports and the same data, so clients configured
# with DIR/bootstrap reconnect to it (broker-failure tests). Use a new DIR for
# a clean broker.
#
# Files in DIR: server.properties, log4j2.xml, tools-log4j2.xml, data/ (log.dirs),
# broker.log (Log4j2 output), broker.out (JVM stdout/stderr), format.log,
# bootstrap (host:port), pid.
#
# Environment:
#   KL_KAFKA_CACHE          cache folder (default <repo>/.cache/kafka)
#   KL_KAFKA_START_TIMEOUT  seconds to wait for readiness (default 90)
#   KL_KAFKA_HEAP_OPTS      default "-Xms256m -Xmx512m"
#   KL_KAFKA_JVM_OPTS       extra JVM options for the broker
#   JAVA                    java binary (default: java on PATH; needs 17+)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CACHE="${KL_KAFKA_CACHE:-$REPO/.cache/kafka}"
LIBS="$CACHE/libs"
STAMP="$LIBS/.fetched"
JAVA="${JAVA:-java}"
START_TIMEOUT="${KL_KAFKA_START_TIMEOUT:-90}"
HEAP_OPTS="${KL_KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
HOST=127.0.0.1

die() { echo "broker.sh: error: $*" >&2; exit 1; }
note() { echo "broker.sh: $*" >&2; }

usage() {
    # shellcheck disable=SC2016  # a literal backquote in the pattern
    sed -n '/^# Usage:/,/^# `start DIR`/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

# The stamp holds the pom's SHA-256: editing the pom (say, a new Kafka
# version) makes the next call fetch again.
pom_sum() { sha256sum "$HERE/pom.xml" | cut -d' ' -f1; }

cmd_fetch() {
    if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$(pom_sum)" ]]; then
        return 0
    fi
    command -v mvn >/dev/null || die "mvn not found (apt-get install -y maven)"
    mkdir -p "$CACHE"
    local tmp="$CACHE/libs.tmp.$$"
    rm -rf "$tmp"
    note "fetching Kafka jars from Maven Central into $LIBS ..."
    local t0=$SECONDS
    if ! mvn -q -B -f "$HERE/pom.xml" dependency:copy-dependencies \
            -DincludeScope=runtime -DoutputDirectory="$tmp" >"$CACHE/fetch.log" 2>&1; then
        tail -n 40 "$CACHE/fetch.log" >&2
        rm -rf "$tmp"
        die "mvn dependency:copy-dependencies failed (full log: $CACHE/fetch.log)"
    fi
    ls "$tmp"/kafka_2.13-*.jar >/dev/null 2>&1 || { rm -rf "$tmp"; die "no kafka_2.13 jar was copied into $tmp"; }
    pom_sum >"$tmp/.fetched"
    rm -rf "$LIBS"
    mv "$tmp" "$LIBS"
    note "fetched $(find "$LIBS" -name '*.jar' | wc -l) jars in $((SECONDS - t0)) s"
}

need_dir() {
    [[ -n "${1:-}" ]] || usage
    DIR="$(mkdir -p "$1" && cd "$1" && pwd)" || die "cannot use broker folder '$1'"
}

# Pid of the broker in $DIR if it is alive and really is that broker (a pid
# file left behind may name a recycled pid); empty otherwise.
live_pid() {
    local pid
    [[ -f "$DIR/pid" ]] || return 0
    pid="$(cat "$DIR/pid")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 0
    if kill -0 "$pid" 2>/dev/null &&
        tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$DIR/server.properties"; then
        echo "$pid"
    fi
}

# Two distinct free TCP ports on 127.0.0.1 (both held open while choosing).
free_ports() {
    python3 - <<'EOF'
import socket
socks = []
for _ in range(2):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

port_open() {  # port_open PORT: something accepts connections there
    timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null
}

write_config() {  # write_config PORT CPORT
    local port=$1 cport=$2
    cat >"$DIR/server.properties" <<EOF
# Single-node KRaft broker for klabel tests (written by tests/kafka/broker.sh).
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$cport
listeners=PLAINTEXT://$HOST:$port,CONTROLLER://$HOST:$cport
advertised.listeners=PLAINTEXT://$HOST:$port
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DIR/data
num.partitions=1
default.replication.factor=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# the log cleaner's dedupe buffer defaults to 128 MiB of a 512 MiB heap
log.cleaner.dedupe.buffer.size=33554432
# a deleted topic's files go after 1 s, not 60 (the bench deletes each
# saturation round's topics so that every round meets the same broker)
file.delete.delay.ms=1000
EOF
    cat >"$DIR/log4j2.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="warn">
  <Appenders>
    <File name="file" fileName="$DIR/broker.log" append="true">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </File>
  </Appenders>
  <Loggers>
    <Logger name="kafka.request.logger" level="warn"/>
    <Logger name="org.apache.kafka.raft" level="warn"/>
    <Logger name="kafka.log.LogCleaner" level="warn"/>
    <Root level="info"><AppenderRef ref="file"/></Root>
  </Loggers>
</Configuration>
EOF
    # command-line tools (StorageTool, TopicCommand): warnings to stderr only
    cat >"$DIR/tools-log4j2.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="warn">
  <Appenders><Console name="err" target="SYSTEM_ERR"><PatternLayout pattern="%p %m (%c)%n"/></Console></Appenders>
  <Loggers><Root level="warn"><AppenderRef ref="err"/></Root></Loggers>
</Configuration>
EOF
}

cmd_start() {
    need_dir "${1:-}"
    local pid port cport
    pid="$(live_pid)"
    [[ -z "$pid" ]] || die "a broker already runs in $DIR (pid $pid, $(cat "$DIR/bootstrap" 2>/dev/null)); stop it first"
    cmd_fetch
    command -v python3 >/dev/null || die "python3 not found (needed to pick free ports)"
    local jv
    jv="$("$JAVA" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)" || true
    [[ -n "$jv" && "$jv" -ge 17 ]] || die "Kafka 4.x needs Java 17 or newer; '$JAVA' is version '${jv:-unknown}'"

    if [[ -f "$DIR/server.properties" && -f "$DIR/data/meta.properties" ]]; then
        # Restart of a stopped broker: same ports, same data.
        port="$(sed -n "s/^listeners=PLAINTEXT:\/\/$HOST:\([0-9]*\),.*/\1/p" "$DIR/server.properties")"
        cport="$(sed -n "s/^controller.quorum.voters=1@$HOST:\([0-9]*\)$/\1/p" "$DIR/server.properties")"
        [[ -n "$port" && -n "$cport" ]] || die "cannot read the ports from $DIR/server.properties"
        for p in "$port" "$cport"; do
            ! port_open "$p" || die "port $p of the broker in $DIR is taken by another process; use a new DIR"
        done
        note "restarting the broker in $DIR on $HOST:$port"
    else
        rm -rf "$DIR/data" "$DIR/broker.log" "$DIR/broker.out" "$DIR/bootstrap" "$DIR/pid"
        read -r port cport < <(free_ports)
        write_config "$port" "$cport"
        local cid
        cid="$("$JAVA" -Dlog4j2.configurationFile="$DIR/tools-log4j2.xml" -cp "$LIBS/*" kafka.tools.StorageTool random-uuid 2>"$DIR/format.log")" ||
            { cat "$DIR/format.log" >&2; die "StorageTool random-uuid failed"; }
        "$JAVA" -Dlog4j2.configurationFile="$DIR/tools-log4j2.xml" -cp "$LIBS/*" kafka.tools.StorageTool \
            format -t "$cid" -c "$DIR/server.properties" >>"$DIR/format.log" 2>&1 ||
            { cat "$DIR/format.log" >&2; die "formatting the storage in $DIR/data failed"; }
    fi

    local logline0=0
    [[ -f "$DIR/broker.log" ]] && logline0="$(wc -l <"$DIR/broker.log")"
    rm -f "$DIR/bootstrap" "$DIR/pid"
    # shellcheck disable=SC2086  # option lists are meant to split
    nohup "$JAVA" $HEAP_OPTS -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$DIR/log4j2.xml" ${KL_KAFKA_JVM_OPTS:-} \
        -cp "$LIBS/*" kafka.Kafka "$DIR/server.properties" \
        </dev/null >>"$DIR/broker.out" 2>&1 &
    pid=$!
    echo "$pid" >"$DIR/pid"

    local t0=$SECONDS
    while :; do
        if tail -n +"$((logline0 + 1))" "$DIR/broker.log" 2>/dev/null | grep -q 'Kafka Server started'; then
            break
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            note "the broker exited during start-up; last lines of $DIR/broker.log and broker.out:"
            tail -n 30 "$DIR/broker.log" >&2 2>/dev/null || true
            tail -n 20 "$DIR/broker.out" >&2 2>/dev/null || true
            rm -f "$DIR/pid"
            die "broker in $DIR failed to start"
        fi
        if ((SECONDS - t0 >= START_TIMEOUT)); then
            note "no 'Kafka Server started' after $START_TIMEOUT s; last lines of $DIR/broker.log:"
            tail -n 30 "$DIR/broker.log" >&2 2>/dev/null || true
            tail -n 20 "$DIR/broker.out" >&2 2>/dev/null || true
            kill -KILL "$pid" 2>/dev/null || true
            rm -f "$DIR/pid"
            die "broker in $DIR did not become ready within $START_TIMEOUT s"
        fi
        sleep 0.2
    done
    echo "$HOST:$port" >"$DIR/bootstrap"
    note "broker ready at $HOST:$port (pid $pid) after $((SECONDS - t0)) s"
    echo "$HOST:$port"
}

cmd_stop() {
    need_dir "${1:-}"
    local pid i
    pid="$(live_pid)"
    if [[ -z "$pid" ]]; then
        rm -f "$DIR/pid"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do  # 20 s
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        note "broker pid $pid did not stop within 20 s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
    fi
    rm -f "$DIR/pid"
}

cmd_status() {
    need_dir "${1:-}"
    local pid bs
    pid="$(live_pid)"
    [[ -n "$pid" ]] || { note "no broker runs in $DIR"; return 1; }
    bs="$(cat "$DIR/bootstrap" 2>/dev/null)" || { note "broker pid $pid in $DIR is not ready yet"; return 1; }
    port_open "${bs##*:}" || { note "broker pid $pid runs but $bs accepts no connection"; return 1; }
    echo "$bs"
}

# Compile CreateTopics.java into the cache (again when it or the pom changed).
# Prints the class folder, or nothing when there is no javac.
tools_classes() {
    local cls="$CACHE/classes" want
    want="$(cat "$HERE/CreateTopics.java" "$HERE/pom.xml" | sha256sum | cut -d' ' -f1)"
    if [[ -f "$cls/.built" && "$(cat "$cls/.built")" == "$want" ]]; then
        echo "$cls"
        return 0
    fi
    command -v javac >/dev/null || return 0
    local tmp="$CACHE/classes.tmp.$$"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    javac -nowarn -d "$tmp" -cp "$LIBS/*" "$HERE/CreateTopics.java" >&2 ||
        { rm -rf "$tmp"; die "compiling $HERE/CreateTopics.java failed"; }
    echo "$want" >"$tmp/.built"
    rm -rf "$cls"
    mv "$tmp" "$cls"
    echo "$cls"
}

cmd_topic() {
    need_dir "${1:-}"
    shift
    (($# >= 2 && $# % 2 == 0)) || die "usage: broker.sh topic DIR NAME PARTITIONS [NAME PARTITIONS ...]"
    local bs pid name parts out cls i
    local -a args=("$@")
    for ((i = 0; i < ${#args[@]}; i += 2)); do
        [[ "${args[i + 1]}" =~ ^[1-9][0-9]*$ ]] ||
            die "partitions of topic '${args[i]}' must be a positive integer, not '${args[i + 1]}'"
    done
    pid="$(live_pid)"
    [[ -n "$pid" ]] || die "no broker runs in $DIR"
    bs="$(cat "$DIR/bootstrap")" || die "no $DIR/bootstrap"
    cmd_fetch
    cls="$(tools_classes)"
    if [[ -n "$cls" ]]; then
        # all topics with one Admin client in one JVM
        if ! out="$("$JAVA" -Xmx256m -XX:TieredStopAtLevel=1 -Dlog4j2.configurationFile="$DIR/tools-log4j2.xml" \
                -cp "$LIBS/*:$cls" CreateTopics "$bs" "$@" 2>&1)"; then
            echo "$out" >&2
            die "creating topics on $bs failed: $*"
        fi
        return 0
    fi
    # no javac: one TopicCommand JVM per topic
    while (($#)); do
        name=$1 parts=$2
        shift 2
        if ! out="$("$JAVA" -Xmx256m -XX:TieredStopAtLevel=1 -Dlog4j2.configurationFile="$DIR/tools-log4j2.xml" -cp "$LIBS/*" \
                org.apache.kafka.tools.TopicCommand --bootstrap-server "$bs" --create \
                --topic "$name" --partitions "$parts" --replication-factor 1 2>&1)"; then
            echo "$out" >&2
            die "creating topic '$name' ($parts partitions) on $bs failed"
        fi
    done
}

case "${1:-}" in
    fetch) cmd_fetch ;;
    start) cmd_start "${2:-}" ;;
    stop) cmd_stop "${2:-}" ;;
    status) cmd_status "${2:-}" ;;
    topic) shift; cmd_topic "$@" ;;
    -h | --help | help | "") usage ;;
    *) note "unknown subcommand '$1'"; usage ;;
esac
