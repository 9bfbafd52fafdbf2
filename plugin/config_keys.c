/*
 * The stage's configuration keys, in one table (name, type, default, range,
 * description), and the two renderings generated from it: the --help table
 * and the markdown of docs/configuration.md. Adding a key here is all it
 * takes to make it settable, validated and documented.
 */
#include "config.h"
#include "kafka_poll.h"

#include <stdio.h>
#include <string.h>

static const struct kl_cfg_def kl_config_keys[] = {
    /* name                     type          default          min  max        choices */
    { "input.topics", KL_CFG_LIST, NULL, 0, 0, NULL,
      "topics to consume, comma-separated" },
    { "group.id", KL_CFG_STR, "klabel", 0, 0, NULL,
      "consumer group" },
    { "input.format", KL_CFG_ENUM, "json", 0, 0, "json|avro|raw",
      "encoding of input values: JSON, Avro in the Confluent wire format, or raw UTF-8 text (docs/formats.md)" },
    { "input.field.id", KL_CFG_STR, "id", 0, 0, NULL,
      "JSON/Avro field holding the event id (string or integer); dotted paths allowed" },
    { "input.field.text", KL_CFG_STR, "text", 0, 0, NULL,
      "JSON/Avro field holding the text to label; dotted paths allowed" },
    { "input.field.kind", KL_CFG_STR, "kind", 0, 0, NULL,
      "JSON/Avro field holding the event kind (news, transaction, ...); dotted paths allowed" },
    { "input.field.ts", KL_CFG_STR, "ts", 0, 0, NULL,
      "JSON/Avro field holding the event time in ms since the epoch; dotted paths allowed" },
    { "input.max.bytes", KL_CFG_INT, "1048576", 16, 67108864, NULL,
      "largest accepted input value; larger values are dead-lettered as oversize" },
    { "output.topic", KL_CFG_STR, NULL, 0, 0, NULL,
      "topic the labeled results are written to" },
    { "output.format", KL_CFG_ENUM, "json", 0, 0, "json|avro",
      "encoding of output values: JSON, or Avro (schemas/label_result.avsc)" },
    { "output.schema.id", KL_CFG_INT, "-1", -1, 2147483647, NULL,
      "output.format=avro: schema id put in the Confluent header of each result (-1 = plain Avro, no header)" },
    { "output.schema.register", KL_CFG_BOOL, "false", 0, 0, NULL,
      "output.format=avro: register schemas/label_result.avsc as <output.topic>-value at schema.registry.url at start and frame results with its id" },
    { "output.explain", KL_CFG_INT, "0", 0, 64, NULL,
      "add the N tokens that contributed most to the label to each result (0 = none)" },
    { "output.include.text", KL_CFG_BOOL, "false", 0, 0, NULL,
      "copy the input text into each result (off: sensitive text stays out of the output topic)" },
    { "schema.registry.url", KL_CFG_STR, "", 0, 0, NULL,
      "Confluent-compatible Schema Registry (http[s]://[user:pass@]host:port) for Avro schema ids; credentials are never logged" },
    { "schema.registry.dir", KL_CFG_STR, "", 0, 0, NULL,
      "folder of Avro writer schemas named <id>.avsc, looked up before schema.registry.url" },
    { "schema.registry.timeout.ms", KL_CFG_INT, "5000", 100, 60000, NULL,
      "bound on one Schema Registry request (ms); a schema is fetched once, the first time its id is seen" },
    { "schema.registry.unknown.retry.ms", KL_CFG_INT, "60000", 1000, 86400000, NULL,
      "a schema id the registry did not know is asked for again after this long (ms); until then its events are dead-lettered as unknown_schema_id" },
    { "model.path", KL_CFG_STR, "", 0, 0, NULL,
      "safetensors model file of the one model (or name several with models=)" },
    { "models", KL_CFG_LIST, "", 0, 0, NULL,
      "names of several models served side by side, comma-separated (each needs its model.*.path)" },
    { "model.<name>.path", KL_CFG_STR, "", 0, 0, NULL,
      "safetensors model file of a model named in models" },
    { "route.topic.<topic>", KL_CFG_STR, "", 0, 0, NULL,
      "the model that labels the events of this input topic" },
    { "route.kind.<kind>", KL_CFG_STR, "", 0, 0, NULL,
      "the model that labels the events of this kind (wins over route.topic.*)" },
    { "route.default", KL_CFG_STR, "", 0, 0, NULL,
      "the model for events no route names (empty = the only model, if one; none = dead-letter them as no_route)" },
    { "model.top.k", KL_CFG_INT, "3", 1, 16, NULL,
      "labels per result, best first, in \"top\" (JSON results at 1 have no \"top\": it would repeat label and score)" },
    { "model.threshold", KL_CFG_DOUBLE, "0.0", 0, 1, NULL,
      "labels with a lower probability are left out of a result" },
    { "model.projection.max.mb", KL_CFG_INT, "256", 0, 1048576, NULL,
      "memory (MiB) each linear model may spend on label projections: every input row times the output rows, computed at start, so that prediction reads one short row per feature instead of the whole embedding (bench model, dim 64, 10 labels, at saturation: the worker thread 1.35-1.46 -> 0.73-0.78 CPU us per event, prediction, encoding and producing together). Built when the model's rows are at least twice as wide as its labels (rounded up to 16) and the table fits: rows x that width x 4 bytes, e.g. 128 MiB for 2M buckets and up to 16 labels. 0 = never" },
    { "batch.max.size", KL_CFG_INT, "256", 1, 65536, NULL,
      "a micro-batch closes at this many events" },
    { "batch.max.delay.us", KL_CFG_INT, "1000", 0, 10000000, NULL,
      "a micro-batch closes when its oldest event has waited this long (microseconds)" },
    { "batch.close.idle", KL_CFG_BOOL, "true", 0, 0, NULL,
      "true = adaptive: when the input has nothing more ready and the batch's worker is idle, the batch closes at once (low latency at low load); false = only batch.max.size and batch.max.delay.us close a batch (fuller batches at low load, every event waits up to the delay)" },
    { "workers", KL_CFG_INT, "1", 0, 64, NULL,
      "inference threads; each owns a share of the input partitions (one BLAS thread each). 0: none, the source thread predicts and produces every batch itself, with no hand-off between threads (the least CPU per event where the stage shares a few cores, e.g. with the broker: see docs/architecture.md)" },
    { "queue.max.events", KL_CFG_INT, "8192", 1, 10000000, NULL,
      "events held between poll and produce; at this many the source stops taking input (see queue.hold.ms)" },
    { "queue.max.bytes", KL_CFG_INT, "16777216", 1024, 4294967296, NULL,
      "bytes held between poll and produce (input values and keys, their decoded text and features); at this many the source stops taking input (see queue.hold.ms)" },
    { "queue.hold.ms", KL_CFG_INT, "1000", 0, 60000, NULL,
      "a full queue first only stops the taking of input (librdkafka's bounded prefetch waits) for up to this long, then pauses the input partitions; 0 = pause at once" },
    { "queue.resume.ratio", KL_CFG_DOUBLE, "0.5", 0, 0.99, NULL,
      "paused input resumes when the queue is back below this share of both limits" },
    { "stage.cpu.slice.us", KL_CFG_INT, "100", 0, 100000, NULL,
      "CPU time slice asked of Linux's scheduler for the stage's threads (microseconds, kernel 6.12+; 0 = the kernel's default): a short slice lets a waking stage thread preempt longer-running work at once, which cuts latency tails on a busy machine" },
    { "stage.source.rt.priority", KL_CFG_INT, "0", 0, 99, NULL,
      "SCHED_FIFO priority of the source thread (poll, decode, featurize, batch deadlines, small inline batches); 0 = the normal policy. The source thread then runs as soon as it wakes instead of queueing behind the broker or other work on a busy machine (batch close lateness, latency tail). Workers and librdkafka's threads keep the normal policy (with workers=0 the source thread also predicts and produces every batch under it). Needs CAP_SYS_NICE or an RLIMIT_RTPRIO (ulimit -r) of at least this value: the stage fails at start otherwise" },
    { "stage.producer.nice", KL_CFG_INT, "0", 0, 19, NULL,
      "added to the niceness of the producer's broker threads; 0 = unchanged. Where the stage shares its cores with other busy work (a broker on the same machine, a CPU-limited container), a positive value lets the scheduler run that work first; with stage.producer.poll.wait.us at 0 that includes librdkafka's loop that polls without sleeping while a ready batch waits for an acknowledgement" },
    { "stage.producer.poll.wait.us", KL_CFG_INT, "1000", 0, KL_KAFKA_POLL_WAIT_MAX_US, NULL,
      "librdkafka 2.0.2's idempotent producer keeps one request in flight per partition and, while a ready batch waits for its acknowledgement, polls its socket with a zero timeout in a loop (a fifth of a core at saturation); a positive value makes such a poll of the producer's broker threads wait, up to this long, until the acknowledgement or new work arrives. 0 = librdkafka's loop as it is" },
    { "stage.inline.max.size", KL_CFG_INT, "16", 0, 65536, NULL,
      "a batch closed because its worker is idle and the input has nothing more runs on the source thread itself when it holds at most this many events (no thread hand-off at low load; 0 = always hand batches to the worker)" },
    { "stage.inference", KL_CFG_BOOL, "true", 0, 0, NULL,
      "false = pass-through: decode and produce results without featurizing or predicting (label null; a benchmark's ceiling)" },
    { "output.partition", KL_CFG_ENUM, "key", 0, 0, "key|same",
      "partition of a result: key = librdkafka's partitioner on the input key; same = the input's partition number (the output topic needs as many partitions)" },
    { "dlq.topic", KL_CFG_STR, "klabel-dlq", 0, 0, NULL,
      "where undecodable events go, with reason headers" },
    { "processing.guarantee", KL_CFG_ENUM, "at_least_once", 0, 0, "at_least_once",
      "delivery guarantee" },
    { "instance.id", KL_CFG_STR, "", 0, 0, NULL,
      "names this instance in headers and logs (empty = hostname-pid)" },
    { "log.level", KL_CFG_ENUM, "info", 0, 0, "error|warn|info|debug",
      "log verbosity" },
    { "shutdown.timeout.ms", KL_CFG_INT, "10000", 100, 600000, NULL,
      "bound on flushing in-flight results at exit (ms)" },
    { "metrics.port", KL_CFG_INT, "0", 0, 65535, NULL,
      "HTTP port serving /metrics (Prometheus), /healthz and /readyz; 0 = off" },
    { "metrics.bind", KL_CFG_STR, "127.0.0.1", 0, 0, NULL,
      "address the metrics/health HTTP server listens on (0.0.0.0 or :: = all)" },
    { "metrics.stats.interval.ms", KL_CFG_INT, "5000", 0, 86400000, NULL,
      "librdkafka statistics interval feeding klabel_consumer_lag while metrics.port is set (ms; 0 = no lag)" },
    { "watchdog.ms", KL_CFG_INT, "10000", 0, 3600000, NULL,
      "/healthz turns unhealthy when a model worker makes no progress this long while events wait (ms; 0 = off)" },
    { "debug.worker.stall.ms", KL_CFG_INT, "0", 0, 600000, NULL,
      "for tests: the model worker sleeps this long before each batch (ms; 0 = never)" },
    { NULL, 0, NULL, 0, 0, NULL, NULL }
};

static const char kafka_help[] =
    "Keys starting with \"kafka.\" pass through to librdkafka with the prefix\n"
    "removed: \"kafka.<prop>\" goes to the consumer and the producer,\n"
    "\"kafka.consumer.<prop>\" to the consumer only and \"kafka.producer.<prop>\"\n"
    "to the producer only (and wins over \"kafka.<prop>\" there). librdkafka\n"
    "checks their names and values when the clients are created.\n";

/* The declared keys, NULL-name terminated. Static; never freed. */
const struct kl_cfg_def *kl_config_table(void)
{
    return kl_config_keys;
}

static const char *type_name(int type)
{
    switch (type) {
    case KL_CFG_STR: return "string";
    case KL_CFG_INT: return "int";
    case KL_CFG_DOUBLE: return "double";
    case KL_CFG_BOOL: return "bool";
    case KL_CFG_ENUM: return "enum";
    case KL_CFG_LIST: return "list";
    }
    return "?";
}

/* Writes the range ("1..16") or choices ("a|b") of d into s; "" if none. */
static void range_text(const struct kl_cfg_def *d, char *s, size_t n)
{
    s[0] = '\0';
    if (d->type == KL_CFG_INT)
        snprintf(s, n, "%.0f..%.0f", d->min, d->max);
    else if (d->type == KL_CFG_DOUBLE)
        snprintf(s, n, "%g..%g", d->min, d->max);
    else if (d->type == KL_CFG_ENUM && d->choices)
        snprintf(s, n, "%s", d->choices);
    else if (d->type == KL_CFG_BOOL)
        snprintf(s, n, "true|false");
}

static const char *default_text(const struct kl_cfg_def *d)
{
    if (!d->def)
        return "(required)";
    if (!d->def[0])
        return "\"\"";
    return d->def;
}

/* Prints the aligned key table of `klabel run --help` to out. */
void kl_config_print_help(FILE *out)
{
    const struct kl_cfg_def *d;
    int wk = (int)strlen("kafka.consumer.<prop>"), wt = 6, wd = 7, wr = 5;
    char r[128];

    for (d = kl_config_keys; d->name; d++) {
        range_text(d, r, sizeof(r));
        if ((int)strlen(d->name) > wk) wk = (int)strlen(d->name);
        if ((int)strlen(type_name(d->type)) > wt) wt = (int)strlen(type_name(d->type));
        if ((int)strlen(default_text(d)) > wd) wd = (int)strlen(default_text(d));
        if ((int)strlen(r) > wr) wr = (int)strlen(r);
    }
    fprintf(out, "Configuration keys (properties file, or -X key=value):\n\n");
    fprintf(out, "  %-*s  %-*s  %-*s  %-*s  %s\n", wk, "KEY", wt, "TYPE", wd,
            "DEFAULT", wr, "RANGE", "DESCRIPTION");
    for (d = kl_config_keys; d->name; d++) {
        range_text(d, r, sizeof(r));
        fprintf(out, "  %-*s  %-*s  %-*s  %-*s  %s\n", wk, d->name, wt,
                type_name(d->type), wd, default_text(d), wr, r, d->desc);
    }
    fprintf(out, "  %-*s  %-*s  %-*s  %-*s  %s\n", wk, "kafka.<prop>", wt,
            "string", wd, "", wr, "", "librdkafka property for both clients");
    fprintf(out, "  %-*s  %-*s  %-*s  %-*s  %s\n", wk, "kafka.consumer.<prop>",
            wt, "string", wd, "", wr, "", "librdkafka property, consumer only");
    fprintf(out, "  %-*s  %-*s  %-*s  %-*s  %s\n", wk, "kafka.producer.<prop>",
            wt, "string", wd, "", wr, "", "librdkafka property, producer only");
    fprintf(out, "\n%s", kafka_help);
}

/* Prints s with '|' escaped for a markdown table cell. */
static void md_cell(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", out);
        else
            fputc(*s, out);
    }
}

/* Prints the whole of docs/configuration.md to out (the output of
 * `klabel config --markdown`). */
void kl_config_print_markdown(FILE *out)
{
    const struct kl_cfg_def *d;
    char r[128];

    fprintf(out,
            "# Configuration\n\n"
            "_Generated by `klabel config --markdown` from "
            "plugin/config_keys.c; do not edit by hand._\n\n"
            "klabel reads one Java-style properties file (`key=value` or "
            "`key: value` lines,\n`#` and `!` comments) and `-X key=value` "
            "overrides given after it on the\ncommand line; the last setting "
            "of a key wins. Unknown keys and bad values are\nerrors that name "
            "the key. Required keys have no default. A line ending in `\\`\n"
            "continues on the next; Java escapes (`\\t`, `\\uXXXX`, `\\=`, ...) "
            "apply;\na UTF-8 BOM and CRLF line ends are accepted; a line may "
            "hold up to 64 KiB.\nWhite space around a key and its value is "
            "dropped, in the file and in `-X`\nalike (in the file, `\\ ` "
            "keeps a space at either end of a `kafka.*` value).\n\n");
    fprintf(out, "| Key | Type | Default | Range / choices | Description |\n");
    fprintf(out, "|---|---|---|---|---|\n");
    for (d = kl_config_keys; d->name; d++) {
        range_text(d, r, sizeof(r));
        fprintf(out, "| `%s` | %s | ", d->name, type_name(d->type));
        if (!d->def)
            fprintf(out, "**required**");
        else if (!d->def[0])
            fprintf(out, "(empty)");
        else
            fprintf(out, "`%s`", d->def);
        fprintf(out, " | ");
        if (r[0]) {
            fputc('`', out);
            md_cell(out, r);
            fputc('`', out);
        }
        fprintf(out, " | ");
        md_cell(out, d->desc);
        fprintf(out, " |\n");
    }
    fprintf(out,
            "\n## Kafka client properties (`kafka.*`)\n\n"
            "Keys starting with `kafka.` pass through to librdkafka with the "
            "prefix removed:\n`kafka.<prop>` goes to both the consumer and the "
            "producer,\n`kafka.consumer.<prop>` to the consumer only and "
            "`kafka.producer.<prop>` to the\nproducer only; a role-specific "
            "setting wins over the shared one. For example\n"
            "`kafka.bootstrap.servers=broker:9092` sets `bootstrap.servers` "
            "on both clients.\nklabel does not check these names or values "
            "itself; librdkafka does, when the\nclients are created, and the "
            "stage refuses to start if it rejects one. See\nlibrdkafka's "
            "CONFIGURATION.md for the properties.\n");
}
