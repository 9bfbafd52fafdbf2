# kafka_tools.sh: thin shell wrappers over Apache Kafka's own command-line
# tools (from the jars that tests/kafka/broker.sh fetched), used by the
# integration tests as an independent producer, consumer and group checker.
# Source it, then call kt_init BOOTSTRAP once.

KT_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
KT_LIBS="${KL_KAFKA_CACHE:-$KT_REPO/.cache/kafka}/libs"
KT_BS=""
KT_JAVA=(java -Xms64m -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC)

kt_init() { # BOOTSTRAP
    KT_BS="$1"
    local log4j
    # in the run's work folder when there is one (removed with it)
    log4j="$(mktemp "${WORK:-${TMPDIR:-/tmp}}/kt-log4j2.XXXXXX.xml")"
    cat > "$log4j" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders><Console name="err" target="SYSTEM_ERR"><PatternLayout pattern="%d{HH:mm:ss} %p %c{1}: %m%n"/></Console></Appenders>
  <Loggers><Root level="error"><AppenderRef ref="err"/></Root></Loggers>
</Configuration>
XML
    KT_JAVA+=("-Dlog4j2.configurationFile=$log4j" -cp "$KT_LIBS/*")
}

kt_topics() { # NAME PARTS [NAME PARTS ...]: creates topics through the harness (broker in $WORK/broker)
    bash "$KT_REPO/tests/kafka/broker.sh" topic "${WORK:?}/broker" "$@" >/dev/null
}

kt_produce() { # TOPIC FILE: "key<TAB>value" lines, acks=all; fails if the tool fails
    "${KT_JAVA[@]}" org.apache.kafka.tools.ConsoleProducer --bootstrap-server "$KT_BS" --topic "$1" \
        --property parse.key=true --property "key.separator=	" \
        --producer-property acks=all --producer-property linger.ms=5 < "$2"
}

kt_count() { # TOPIC: sum of the end offsets of all partitions (records written)
    "${KT_JAVA[@]}" org.apache.kafka.tools.GetOffsetShell --bootstrap-server "$KT_BS" --topic "$1" --time -1 2>/dev/null \
        | awk -F: '{ s += $NF } END { print s + 0 }'
}

kt_consume_all() { # TOPIC OUTFILE: every record as "key<TAB>value", until 6 s pass with nothing new
    local want
    want=$(kt_count "$1")
    "${KT_JAVA[@]}" org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$KT_BS" --topic "$1" \
        --from-beginning --max-messages "$want" --timeout-ms 6000 \
        --property print.key=true --property "key.separator=	" > "$2" 2>"$2.err"
    local got
    got=$(wc -l < "$2")
    if [ "$got" -lt "$want" ]; then
        echo "kt: read $got of $want records from $1"; tail -5 "$2.err"; return 1
    fi
}

kt_lag() { # GROUP TOPIC: prints the summed lag of GROUP on TOPIC (-1 if no committed offsets yet)
    "${KT_JAVA[@]}" org.apache.kafka.tools.consumer.group.ConsumerGroupCommand --bootstrap-server "$KT_BS" \
        --describe --group "$1" 2>/dev/null \
        | awk -v t="$2" '$2 == t { n++; if ($4 == "-" || $6 == "-") bad = 1; else lag += $6 }
                         END { if (n == 0 || bad) print -1; else print lag }'
}

kt_wait_lag_zero() { # GROUP TOPIC NEVENTS TIMEOUT_S: until the committed offsets reach the end
    local deadline=$(( $(date +%s) + $4 )) lag
    while :; do
        lag=$(kt_lag "$1" "$2")
        [ "$lag" = "0" ] && return 0
        if [ "$(date +%s)" -ge "$deadline" ]; then
            echo "kt: group $1 still has lag $lag on $2 after $4 s"; return 1
        fi
        sleep 1
    done
}
