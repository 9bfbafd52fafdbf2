/*
 * engine/grow.c: the growable-array helper of grow.h.
 */
#include <stdint.h>
#include <stdlib.h>

#include "klabel/engine.h"
#include "grow.h"

/* Contract in grow.h. */
int kl_grow(void **p, size_t *cap, size_t need, size_t elem, size_t first)
{
    size_t ncap = *cap ? *cap : first;
    void *q;

    if (need <= *cap)
        return KL_OK;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2 / elem)
            return KL_ENOMEM;
        ncap *= 2;
    }
    if ((q = realloc(*p, ncap * elem)) == NULL)
        return KL_ENOMEM;
    *p = q;
    *cap = ncap;
    return KL_OK;
}
