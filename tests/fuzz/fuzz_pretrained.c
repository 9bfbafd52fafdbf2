/*
 * tests/fuzz/fuzz_pretrained.c: libFuzzer target of the .vec reader
 * (engine/pretrained.c, `klabel train --pretrained-vectors`). The input is
 * a whole .vec file, read from a memory file into the rows of a fixed
 * four-word vocabulary (a, b, cat, été; dim 2, two bucket rows after them). Properties:
 *   - kl_pretrained_apply() returns one of its documented codes, and a
 *     failure names the file;
 *   - a file with a NUL byte is refused (it would cut a line short);
 *   - on success every vocabulary row is what a plain reading of the
 *     file gives (the values of the word's last line, bit for bit, or
 *     the row as it was when the word has no line), and the bucket rows
 *     are untouched.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../engine/pretrained.h"
#include "fuzz_check.h"
#include "fuzz_file.h"
#include "klabel/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DIM 2
#define NWORDS 4
#define NROWS (NWORDS + 2)
#define UNSET -7.0f

/* No 3-byte word: a vocabulary with one indexes all of U+0800..U+FFFF
 * once (engine/dict.c), which would take most of each run. */
static const char vocab[] = "a\0b\0cat\0\xc3\xa9t\xc3\xa9\0"; /* ..., été */
static const char *const words[NWORDS] = {"a", "b", "cat", "\xc3\xa9t\xc3\xa9"};

/* The row a plain reading gives word w: the values after it on its last
 * line among the file's vector lines, or UNSET. */
static void expected_row(const uint8_t *data, size_t size, const char *w,
                         float *row)
{
    size_t wl = strlen(w), i = 0, line = 0;

    row[0] = row[1] = UNSET;
    while (i < size) {
        const uint8_t *nl = memchr(data + i, '\n', size - i);
        size_t e = nl ? (size_t)(nl - data) : size;

        if (line > 0 && e - i > wl && !memcmp(data + i, w, wl) &&
            (data[i + wl] == ' ' || data[i + wl] == '\t')) {
            size_t n = e - i - wl;
            char *buf = malloc(n + 1), *p = buf, *end;

            CHECK(buf != NULL, "out of memory");
            memcpy(buf, data + i + wl, n);
            buf[n] = '\0';
            for (int j = 0; j < DIM; j++) {
                row[j] = strtof(p, &end);
                p = end;
            }
            free(buf);
        }
        line++;
        i = e + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    float rows[NROWS * DIM], want[DIM];
    char err[512] = "";
    const char *path;
    int rc;

    if (size > 1 << 16)
        return 0;
    path = kl_fuzz_write(data, size);
    for (int i = 0; i < NROWS * DIM; i++)
        rows[i] = UNSET;
    rc = kl_pretrained_apply(path, vocab, sizeof vocab - 1, NWORDS, DIM, rows,
                             0, err, sizeof err);
    CHECK(rc == KL_OK || rc == KL_EINVAL || rc == KL_EFORMAT ||
              rc == KL_ERANGE || rc == KL_ENOMEM,
          "code %d (%s)", rc, err);
    CHECK(rc == KL_OK || strstr(err, path) != NULL, "error '%s' lacks the file", err);
    if (memchr(data, 0, size) != NULL)
        CHECK(rc != KL_OK, "a file with a NUL byte was read");
    if (rc != KL_OK)
        return 0;
    for (int w = 0; w < NWORDS; w++) {
        expected_row(data, size, words[w], want);
        for (int j = 0; j < DIM; j++)
            CHECK(!memcmp(&rows[w * DIM + j], &want[j], sizeof want[j]),
                  "word %s value %d: %g, a plain reading gives %g", words[w], j,
                  rows[w * DIM + j], want[j]);
    }
    for (int i = NWORDS * DIM; i < NROWS * DIM; i++)
        CHECK(rows[i] == UNSET, "bucket row %d written", i / DIM - NWORDS);
    return 0;
}
