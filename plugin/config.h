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

/* Reads a Java-style properties file: "key=value", "key: value" or
 * "key value" lines, '#' and '!' comments, blank lines; surrounding white
 * space trimmed. Also: a UTF-8 BOM at the start, CRLF line ends, a line
 * ending in an odd number of backslashes continues on the next, Java
 * escapes (\t \n \r \f \uXXXX, \x = x). A line longer than 64 KiB is an
 * error. The last setting of a key wins. Errors read "path:line: reason"
 * and name the key. Returns 0, KL_EIO, KL_EINVAL, KL_ERANGE or KL_ENOMEM. */
int kl_config_load_file(struct kl_config *c, const char *path, char *err,
                        size_t errsz);

/* Sets one key (trimmed, validated against its table entry); "kafka.*"
 * keys are kept as given; any other key is an error "unknown configuration
 * key 'foo.bar' (see klabel run --help)". The last setting wins.
 * kl_config_set_kv() takes "key=value" (as -X does) and trims the white
 * space around the key and the value, as the properties file reader does
 * for a line without escapes (a kafka.* value too). Returns 0, KL_EINVAL,
 * KL_ERANGE or KL_ENOMEM. */
int kl_config_set(struct kl_config *c, const char *key, const char *value,
                  char *err, size_t errsz);
int kl_config_set_kv(struct kl_config *c, const char *kv, char *err,
                     size_t errsz);

/* Checks value against one key definition exactly as kl_config_set() does
 * (INT/DOUBLE: whole string, in range; BOOL: true/false/yes/no/1/0; ENUM:
 * one of the choices). For modules that declare keys of their own.
 * Returns 0, KL_EINVAL or KL_ERANGE with a reason naming key, value and
 * range (or KL_ENOMEM). */
int kl_config_check(const struct kl_cfg_def *d, const char *value, char *err,
                    size_t errsz);

/* Checks that every required key has a non-empty value (a LIST at least
 * one item); the error lists all missing keys. Returns 0 or KL_EINVAL. */
int kl_config_validate(const struct kl_config *c, char *err, size_t errsz);

/* Getters for declared keys; calling them with an undeclared key aborts
 * (a programming error). Strings are borrowed until the key is set again. */
const char *kl_config_get(const struct kl_config *c, const char *key);
int64_t kl_config_get_int(const struct kl_config *c, const char *key);
double kl_config_get_double(const struct kl_config *c, const char *key);
int kl_config_get_bool(const struct kl_config *c, const char *key);
/* KL_CFG_LIST: comma-separated, trimmed, empty items dropped. Returns the
 * count (0 with *items == NULL when none) or KL_ENOMEM; *items is
 * caller-owned (free each, then the array). */
int kl_config_get_list(const struct kl_config *c, const char *key,
                       char ***items);

/* Keys of declared patterns: a table name with a "<...>" part (such as
 * "model.<name>.path" or "route.topic.<topic>") declares every key that
 * puts non-empty text there; kl_config_set() validates them against that
 * entry. kl_config_get_match() returns the value of one such key (the
 * pattern's default when unset; NULL when no pattern matches key);
 * kl_config_foreach_match() calls fn(wild, value, ud) for each key set
 * under the pattern named pattern, wild being the text in place of
 * "<...>" (borrowed for the call). It returns 0, KL_ENOMEM or fn's first
 * non-zero result. */
const char *kl_config_get_match(const struct kl_config *c, const char *key);
int kl_config_foreach_match(const struct kl_config *c, const char *pattern,
                            int (*fn)(const char *wild, const char *v,
                                      void *ud),
                            void *ud);

/* Calls fn for each pass-through key for the given role ("consumer" or
 * "producer"), with the "kafka." / "kafka.<role>." prefix removed: first
 * all shared "kafka.*" keys, then the "kafka.<role>.*" ones, so a
 * role-specific value, applied last, wins. Strings are borrowed for the
 * call. Stops and returns fn's first non-zero result. */
int kl_config_foreach_kafka(const struct kl_config *c, const char *role,
                            int (*fn)(const char *k, const char *v, void *ud),
                            void *ud);

/* The declared keys, NULL-name terminated. */
const struct kl_cfg_def *kl_config_table(void);
/* --help text, and the whole of docs/configuration.md (title, generated-by
 * line, key table, kafka.* paragraph): `klabel config --markdown`. */
void kl_config_print_help(FILE *out);
void kl_config_print_markdown(FILE *out);

#endif
