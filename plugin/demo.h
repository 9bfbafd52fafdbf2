/*
 * The embedded demo's private pieces: splitting the THUCNews TSV into a
 * training file and test examples (demo_data.c) and the demo itself
 * (demo.c, `klabel demo`).
 */
#ifndef KL_PLUGIN_DEMO_H
#define KL_PLUGIN_DEMO_H

#include <stddef.h>

struct kl_demo_example {
    char *label;  /* owned */
    char *text;   /* owned */
};

/* The held-out examples and what the split saw. Caller-owned;
 * kl_demo_data_fini(). */
struct kl_demo_data {
    struct kl_demo_example *test;  /* (ntest) every 5th line */
    size_t ntest, ntrain;
    char **labels;                 /* (nlabels) distinct labels seen */
    size_t nlabels;
};

/* Reads "label<TAB>text" lines from tsv: every 5th line (the 5th, 10th,
 * ...) goes to d->test, the others are written to train_path. Lines
 * without a tab are an error naming the line. Returns 0 or KL_EIO /
 * KL_EFORMAT / KL_ENOMEM with a reason in err. */
int kl_demo_data_split(const char *tsv, const char *train_path,
                       struct kl_demo_data *d, char *err, size_t errsz);

void kl_demo_data_fini(struct kl_demo_data *d);

#endif
