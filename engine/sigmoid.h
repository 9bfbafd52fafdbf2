/*
 * engine/sigmoid.h: fastText's sigmoid (Loss::sigmoid in loss.cc), used by
 * the one-vs-all loss in training and prediction so that probabilities of
 * imported fastText models come out identical. fastText reads a 513-entry
 * table over [-8, 8] (0 below, 1 above); entry i is computed here on the
 * fly, with the same float arithmetic, instead of being stored.
 * Not installed.
 */
#ifndef KL_ENGINE_SIGMOID_H
#define KL_ENGINE_SIGMOID_H

#include <math.h>
#include <stdint.h>

#define KL_SIGMOID_TABLE 512
#define KL_SIGMOID_MAX 8

static inline float kl_sigmoid_fasttext(float x)
{
    int64_t i;
    float t;

    if (!(x >= -KL_SIGMOID_MAX)) /* also NaN */
        return 0.0f;
    if (x > KL_SIGMOID_MAX)
        return 1.0f;
    i = (int64_t)((x + KL_SIGMOID_MAX) * KL_SIGMOID_TABLE / KL_SIGMOID_MAX / 2);
    t = (float)(i * 2 * KL_SIGMOID_MAX) / KL_SIGMOID_TABLE - KL_SIGMOID_MAX;
    return (float)(1.0 / (1.0 + expf(-t)));
}

#endif /* KL_ENGINE_SIGMOID_H */
