/*
 * engine/example.c: one line of a labeled file ("label<TAB>text" or
 * fastText's "__label__x text") split into labels and text, and label names
 * looked up in a model. Used by evaluation (plugin/cli_eval.c) and by the
 * trainer's validation set (engine/train_valid.c).
 */
#include <stdlib.h>
#include <string.h>

#include "klabel/engine.h"
#include "model.h"
#include "tokenize.h"

/* Contract in engine.h. ex owns nothing yet. */
void kl_example_init(struct kl_example *ex)
{
    memset(ex, 0, sizeof *ex);
}

/* Contract in engine.h. Leaves ex initialized. */
void kl_example_fini(struct kl_example *ex)
{
    free(ex->label_off);
    free(ex->label_len);
    free(ex->text);
    kl_example_init(ex);
}

/* Appends one label position, growing the arrays. */
static int push_label(struct kl_example *ex, size_t off, size_t len)
{
    if (len == 0)
        return KL_EFORMAT;
    if (ex->nlabels == ex->label_cap) {
        size_t ncap = ex->label_cap ? ex->label_cap * 2 : 4;
        uint32_t *o = realloc(ex->label_off, ncap * sizeof *o);
        uint32_t *l;
        if (o == NULL)
            return KL_ENOMEM;
        ex->label_off = o;
        if ((l = realloc(ex->label_len, ncap * sizeof *l)) == NULL)
            return KL_ENOMEM;
        ex->label_len = l;
        ex->label_cap = ncap;
    }
    ex->label_off[ex->nlabels] = (uint32_t)off;
    ex->label_len[ex->nlabels] = (uint32_t)len;
    ex->nlabels++;
    return KL_OK;
}

/* Makes room for a text of n bytes plus its NUL. */
static int reserve_text(struct kl_example *ex, size_t n)
{
    char *t;

    if (n + 1 <= ex->text_cap)
        return KL_OK;
    if ((t = realloc(ex->text, n + 1)) == NULL)
        return KL_ENOMEM;
    ex->text = t;
    ex->text_cap = n + 1;
    return KL_OK;
}

/* fastText's format: labels anywhere, the other tokens joined by spaces. */
static int parse_fasttext(const char *line, size_t n, struct kl_example *ex)
{
    size_t i = 0, a;
    int rc;

    if ((rc = reserve_text(ex, n)) != KL_OK)
        return rc;
    while (kl_tokenize_next(line, n, &i, &a)) {
        if (kl_tokenize_is_label(line + a, i - a)) {
            rc = push_label(ex, a + KL_LABEL_PREFIX_LEN,
                            i - a - KL_LABEL_PREFIX_LEN);
            if (rc != KL_OK)
                return rc;
            continue;
        }
        if (ex->text_len > 0)
            ex->text[ex->text_len++] = ' ';
        memcpy(ex->text + ex->text_len, line + a, i - a);
        ex->text_len += i - a;
    }
    ex->text[ex->text_len] = '\0';
    return KL_OK;
}

/* Contract in engine.h. */
int kl_example_parse(const char *line, size_t n, struct kl_example *ex)
{
    const char *tab;
    size_t i = 0;
    int rc;

    if (ex == NULL || (line == NULL && n > 0))
        return KL_EINVAL;
    ex->nlabels = 0;
    ex->text_len = 0;
    if (ex->text != NULL)
        ex->text[0] = '\0';
    if (n > 0 && line[n - 1] == '\r')
        n--;
    if (n > KL_TEXT_MAX)
        return KL_ERANGE;
    while (i < n && kl_tokenize_is_space((unsigned char)line[i]))
        i++;
    if (i == n)
        return KL_EEMPTY;
    if (kl_tokenize_is_label(line + i, n - i))
        return parse_fasttext(line, n, ex);
    if ((tab = memchr(line, '\t', n)) == NULL || tab == line)
        return KL_EFORMAT;
    if ((rc = push_label(ex, 0, (size_t)(tab - line))) != KL_OK)
        return rc;
    n -= (size_t)(tab + 1 - line);
    if ((rc = reserve_text(ex, n)) != KL_OK)
        return rc;
    memcpy(ex->text, tab + 1, n);
    ex->text[n] = '\0';
    ex->text_len = n;
    return KL_OK;
}

/* Contract in engine.h: a linear scan, O(nlabels) per call. */
int32_t kl_model_find_label(const struct kl_model *m, const char *name,
                            size_t len)
{
    if (m == NULL || (name == NULL && len > 0))
        return -1;
    for (int32_t i = 0; i < m->info.nlabels; i++) {
        const char *l = m->info.labels[i];
        if (strlen(l) == len && memcmp(l, name, len) == 0)
            return i;
    }
    return -1;
}
