/*
 * Stage configuration: one properties file plus "key=value" overrides.
 * Every key is declared in a table (name, type, default, range,
 * description); unknown keys and bad values are errors naming the key;
 * keys starting with "kafka." pass through to librdkafka
 * ("kafka.consumer.*" to the consumer only, "kafka.producer.*" to the
 * producer only, other "kafka.*" to both).
 */
#ifndef KL_PLUGIN_CONFIG_H
#define KL_PLUGIN_CONFIG_H

#include <stdint.h>
#include <stdio.h>

enum kl_cfg_type { KL_CFG_STR, KL_CFG_INT, KL_CFG_DOUBLE, KL_CFG_BOOL, KL_CFG_ENUM, KL_CFG_LIST };

struct kl_cfg_def {
    const char *name;
    int type;             /* enum kl_cfg_type */
    const char *def;      /* default as text; NULL = required, "" = empty */
    double min, max;      /* KL_CFG_INT / KL_CFG_DOUBLE range, inclusive */
    const char *choices;  /* KL_CFG_ENUM: "a|b|c" */
    const char *desc;     /* one line for --help and docs */
};

struct kl_config; /* opaque */

/* Creates a config holding the defaults. Caller owns; kl_config_destroy(). */
struct kl_config *kl_config_create(void);
void kl_config_destroy(struct kl_config *c);

/* Reads a Java-style properties file: "key=value" or "key: value" lines,
 * '#' and '!' comments, blank lines; surrounding white space trimmed.
 * Errors name the file, line and key. */
int kl_config_load_file(struct kl_config *c, const char *path, char *err,
                        size_t errsz);

/* Sets one key (validated against its table entry); "kafka.*" keys are kept
 * as given. kl_config_set_kv() takes "key=value". */
int kl_config_set(struct kl_config *c, const char *key, const char *value,
                  char *err, size_t errsz);
int kl_config_set_kv(struct kl_config *c, const char *kv, char *err,
                     size_t errsz);

/* Checks that every required key has a value. */
int kl_config_validate(const struct kl_config *c, char *err, size_t errsz);

/* Getters for declared keys; calling them with an undeclared key aborts
 * (a programming error). Strings are borrowed until the key is set again. */
const char *kl_config_get(const struct kl_config *c, const char *key);
int64_t kl_config_get_int(const struct kl_config *c, const char *key);
double kl_config_get_double(const struct kl_config *c, const char *key);
int kl_config_get_bool(const struct kl_config *c, const char *key);
/* KL_CFG_LIST: comma-separated, trimmed, empty items dropped. Returns the
 * count; *items is caller-owned (free each, then the array). */
int kl_config_get_list(const struct kl_config *c, const char *key,
                       char ***items);

/* Calls fn for each pass-through key for the given role ("consumer" or
 * "producer"), with the "kafka." / "kafka.<role>." prefix removed. Stops and
 * returns fn's first non-zero result. */
int kl_config_foreach_kafka(const struct kl_config *c, const char *role,
                            int (*fn)(const char *k, const char *v, void *ud),
                            void *ud);

/* The declared keys, NULL-name terminated. */
const struct kl_cfg_def *kl_config_table(void);
/* --help text and the markdown table of docs/configuration.md. */
void kl_config_print_help(FILE *out);
void kl_config_print_markdown(FILE *out);

#endif
