/*
 * Logging: formats one line per call and writes it to stderr in a single
 * write(2), so lines from librdkafka's threads and ours never interleave.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

int kl_log_level = KL_LOG_INFO;

static const char *const level_names[8] = {
    "EMERG", "ALERT", "CRIT", "ERROR", "WARN", "NOTICE", "INFO", "DEBUG"};

void kl_log_write(int lvl, const char *comp, const char *fmt, ...)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    size_t n;
    int w;
    va_list ap;

    if (lvl < 0)
        lvl = 0;
    if (lvl > 7)
        lvl = 7;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    w = snprintf(line + n, sizeof line - n, ".%03ldZ %s %s: ",
                 ts.tv_nsec / 1000000L, level_names[lvl], comp ? comp : "-");
    if (w > 0)
        n += (size_t)w < sizeof line - n ? (size_t)w : sizeof line - n - 1;
    va_start(ap, fmt);
    w = vsnprintf(line + n, sizeof line - n, fmt, ap);
    va_end(ap);
    if (w > 0)
        n += (size_t)w < sizeof line - n ? (size_t)w : sizeof line - n - 1;
    while (n > 0 && line[n - 1] == '\n')
        n--;
    line[n++] = '\n';
    if (write(STDERR_FILENO, line, n) < 0) {
        /* nowhere else to report it */
    }
}

int kl_log_parse_level(const char *s)
{
    static const struct { const char *name; int lvl; } names[] = {
        {"emerg", 0}, {"alert", 1}, {"crit", 2}, {"error", 3}, {"err", 3},
        {"warning", 4}, {"warn", 4}, {"notice", 5}, {"info", 6},
        {"debug", 7}};
    size_t i;
    char *end;
    long v;

    if (!s || !*s)
        return -1;
    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcasecmp(s, names[i].name))
            return names[i].lvl;
    v = strtol(s, &end, 10);
    if (*end || v < 0 || v > 7)
        return -1;
    return (int)v;
}
