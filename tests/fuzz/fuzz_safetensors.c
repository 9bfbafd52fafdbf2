/*
 * tests/fuzz/fuzz_safetensors.c: libFuzzer target for the safetensors
 * model reader (engine/safetensors.c, meta.c, model.c, dict.c, tokmodel.c,
 * and prediction over whatever opens). The input is a whole model file:
 * kl_model_open() must either fail with a known code and a reason, or give
 * a model that featurizes, predicts and explains the fixed texts of
 * fuzz_model.h without breaking an invariant. Seeds: tiny trained models
 * (tests/fuzz/make_corpus.sh); dictionary: tests/fuzz/safetensors.dict.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_model.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Once per process: the memfd and single-threaded OpenBLAS. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    kl_fuzz_model_init();
    return 0;
}

/* One input: the bytes of a model file. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kl_model *m = NULL;
    char err[1024] = "";
    const char *path = kl_fuzz_write(data, size);
    int rc = kl_model_open(path, &m, err, sizeof err);

    if (rc != KL_OK) {
        kl_fuzz_check_failed_open(rc, m, err);
        return 0;
    }
    kl_fuzz_exercise_model(m);
    kl_fuzz_check_tensors(m, size);
    kl_model_destroy(m);
    return 0;
}
