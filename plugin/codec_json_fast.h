/*
 * The JSON input codec's fast path (codec_json_fast.c), used by
 * kl_json_decode_event() before its full, cJSON-based decoder: it decodes
 * flat, well-formed events whose fields are all good, and hands
 * everything else (with every error) to the full decoder.
 */
#ifndef KL_PLUGIN_CODEC_JSON_FAST_H
#define KL_PLUGIN_CODEC_JSON_FAST_H

#include <stddef.h>

#include "codec.h"

/* "Not decided here: run the full decoder." */
#define KL_JSON_FALLBACK 1000

/* Decodes buf[0..len) with field paths names[0..4) (id, text, kind, ts)
 * into ev (init'ed; replaced only on success). Returns KL_DEC_OK,
 * KL_JSON_FALLBACK, or KL_ENOMEM. Thread-safe. */
int kl_json_decode_fast(const char *const names[4], const void *buf,
                        size_t len, struct kl_event *ev);

/* Turns the fast path off (0) or on (1, the default) for the process; for
 * tests that compare it with the full decoder. */
void kl_json_set_fast(int on);

#endif
