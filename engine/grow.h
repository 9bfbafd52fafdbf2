/*
 * engine/grow.h: the engine's one growable-array helper (geometric growth
 * of a realloc'ed buffer), shared by the tokenizer, the string table, the
 * training and validation loaders and the neural networks' buffers.
 * Not installed.
 */
#ifndef KL_ENGINE_GROW_H
#define KL_ENGINE_GROW_H

#include <stddef.h>

/* Makes *p, an array of elem-byte items with room for *cap of them, hold at
 * least need items: nothing happens when need <= *cap; otherwise the
 * capacity doubles, starting from *cap (or from first when *cap is 0), until
 * it reaches need, and *p is realloc'ed (contents kept). *p stays owned by
 * the caller (free()). Returns 0, or KL_ENOMEM (*p and *cap untouched) when
 * the size would overflow or realloc fails. */
int kl_grow(void **p, size_t *cap, size_t need, size_t elem, size_t first);

#endif /* KL_ENGINE_GROW_H */
