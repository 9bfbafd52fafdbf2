/*
 * Pattern keys of the configuration table: a name with one "<...>" part
 * ("model.<name>.path", "route.topic.<topic>") declares every key that
 * puts non-empty text (dots included) in its place. Matching only; the
 * values live in struct kl_config (config.c). Private to config*.c.
 */
#ifndef KL_PLUGIN_CONFIG_PATTERN_H
#define KL_PLUGIN_CONFIG_PATTERN_H

#include <stddef.h>

/* 1 when the table name holds a "<...>" part. */
int kl_config_is_pattern(const char *name);

/* 1 when key matches the pattern name; then key[*wild .. *wild + *wlen)
 * is the text in place of "<...>". */
int kl_config_pattern_match(const char *name, const char *key, size_t *wild,
                            size_t *wlen);

/* Index in kl_config_table() of the pattern key matches, or -1; when
 * several match, the one with the shortest "<...>" text wins. */
int kl_config_find_pattern(const char *key);

#endif
