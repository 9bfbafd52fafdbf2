/*
 * The demo's data (plugin/demo.h): a deterministic 80/20 split of a
 * "label<TAB>text" file, every 5th line held out for testing.
 */
#include "demo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klabel/engine.h"

static int add_label(struct kl_demo_data *d, const char *label)
{
    size_t i;
    char **p;

    for (i = 0; i < d->nlabels; i++)
        if (!strcmp(d->labels[i], label))
            return KL_OK;
    p = realloc(d->labels, (d->nlabels + 1) * sizeof *p);
    if (!p)
        return KL_ENOMEM;
    d->labels = p;
    if (!(d->labels[d->nlabels] = strdup(label)))
        return KL_ENOMEM;
    d->nlabels++;
    return KL_OK;
}

static int add_test(struct kl_demo_data *d, size_t *cap, const char *label,
                    const char *text)
{
    struct kl_demo_example *ex;

    if (d->ntest == *cap) {
        size_t ncap = *cap ? *cap * 2 : 256;
        struct kl_demo_example *p = realloc(d->test, ncap * sizeof *p);

        if (!p)
            return KL_ENOMEM;
        d->test = p;
        *cap = ncap;
    }
    ex = &d->test[d->ntest];
    ex->label = strdup(label);
    ex->text = strdup(text);
    if (!ex->label || !ex->text) {
        free(ex->label);
        free(ex->text);
        return KL_ENOMEM;
    }
    d->ntest++;
    return KL_OK;
}

int kl_demo_data_split(const char *tsv, const char *train_path,
                       struct kl_demo_data *d, char *err, size_t errsz)
{
    FILE *in = NULL, *out = NULL;
    char *line = NULL, *tab;
    size_t cap = 0, tcap = 0, lineno = 0;
    ssize_t len;
    int rc = KL_OK;

    memset(d, 0, sizeof *d);
    in = fopen(tsv, "r");
    if (!in) {
        snprintf(err, errsz, "%s: %s", tsv, strerror(errno));
        rc = KL_EIO;
        goto out;
    }
    out = fopen(train_path, "w");
    if (!out) {
        snprintf(err, errsz, "%s: %s", train_path, strerror(errno));
        rc = KL_EIO;
        goto out;
    }
    while ((len = getline(&line, &cap, in)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        tab = strchr(line, '\t');
        if (!tab || tab == line || !tab[1]) {
            snprintf(err, errsz, "%s:%zu: expected label<TAB>text", tsv,
                     lineno);
            rc = KL_EFORMAT;
            goto out;
        }
        *tab = '\0';
        rc = add_label(d, line);
        if (!rc && lineno % 5 == 0)
            rc = add_test(d, &tcap, line, tab + 1);
        else if (!rc) {
            if (fprintf(out, "%s\t%s\n", line, tab + 1) < 0) {
                snprintf(err, errsz, "%s: %s", train_path, strerror(errno));
                rc = KL_EIO;
                goto out;
            }
            d->ntrain++;
        }
        if (rc) {
            snprintf(err, errsz, "out of memory");
            goto out;
        }
    }
    if (ferror(in)) {
        snprintf(err, errsz, "%s: read error", tsv);
        rc = KL_EIO;
    } else if (!d->ntest || !d->ntrain) {
        snprintf(err, errsz, "%s: too few lines (%zu)", tsv, lineno);
        rc = KL_EFORMAT;
    }
out:
    free(line);
    if (in)
        fclose(in);
    if (out && fclose(out) != 0 && !rc) {
        snprintf(err, errsz, "%s: %s", train_path, strerror(errno));
        rc = KL_EIO;
    }
    if (rc)
        kl_demo_data_fini(d);
    return rc;
}

void kl_demo_data_fini(struct kl_demo_data *d)
{
    size_t i;

    for (i = 0; i < d->ntest; i++) {
        free(d->test[i].label);
        free(d->test[i].text);
    }
    for (i = 0; i < d->nlabels; i++)
        free(d->labels[i]);
    free(d->test);
    free(d->labels);
    memset(d, 0, sizeof *d);
}
