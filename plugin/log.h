/*
 * Logging: one macro for the whole plugin side (and librdkafka's log_cb).
 * Lines go to stderr as "<time> <LEVEL> <component>: <message>".
 * Levels are syslog's, so librdkafka's levels map one to one.
 */
#ifndef KL_PLUGIN_LOG_H
#define KL_PLUGIN_LOG_H

enum {
    KL_LOG_EMERG = 0,
    KL_LOG_ALERT = 1,
    KL_LOG_CRIT = 2,
    KL_LOG_ERR = 3,
    KL_LOG_WARNING = 4,
    KL_LOG_NOTICE = 5,
    KL_LOG_INFO = 6,
    KL_LOG_DEBUG = 7
};

/* Lines above this level are dropped (default KL_LOG_INFO). Set it before
 * starting threads; read without a lock. */
extern int kl_log_level;

/* Writes one line (thread-safe; one write per line). Use KL_LOG. */
void kl_log_write(int lvl, const char *comp, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Parses "error", "warning", "info", "debug" (or a number 0-7). Returns the
 * level, or -1 for an unknown name. */
int kl_log_parse_level(const char *s);

#define KL_LOG(lvl, comp, ...)                       \
    do {                                             \
        if ((lvl) > kl_log_level)                    \
            break;                                   \
        kl_log_write((lvl), (comp), __VA_ARGS__);    \
    } while (0)

#endif
