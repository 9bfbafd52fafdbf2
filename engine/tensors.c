/*
 * engine/tensors.c: the tensors of an opened model file: listed for
 * `klabel inspect` and tools (kl_model_tensor_count(), kl_model_tensor();
 * from the validated safetensors index, touching no tensor data), and the
 * access hints for mapped tensors (kl_model_advise_tensor(),
 * kl_model_advise_rows()).
 */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "klabel/engine.h"
#include "model.h"

/* Contract in engine.h. */
size_t kl_model_tensor_count(const struct kl_model *m)
{
    return m ? m->st.nt : 0;
}

/* Contract in engine.h. out is caller-owned; its strings are borrowed. */
int kl_model_tensor(const struct kl_model *m, size_t i,
                    struct kl_tensor_info *out)
{
    const struct kl_st_tensor *t;

    if (m == NULL || out == NULL || i >= m->st.nt)
        return KL_EINVAL;
    t = &m->st.t[i];
    memset(out, 0, sizeof *out);
    out->name = t->name;
    out->dtype = kl_safetensors_dtype_name(t->dtype);
    out->ndim = t->ndim;
    for (int d = 0; d < t->ndim && d < 4; d++)
        out->shape[d] = t->shape[d];
    out->bytes = t->end - t->begin;
    out->offset = t->file_off;
    return KL_OK;
}

/* Contract in model.h. */
void kl_model_advise_tensor(const struct kl_model *m, const char *name,
                            int advice)
{
    const struct kl_st_tensor *t;
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t a, b;

    if (m == NULL || m->st.map == NULL || page <= 0 ||
        (t = kl_safetensors_find(&m->st, name)) == NULL || t->end == t->begin)
        return;
    a = (uintptr_t)t->data & ~(uintptr_t)(page - 1);
    b = (uintptr_t)t->data + (uintptr_t)(t->end - t->begin);
    (void)madvise((void *)a, (size_t)(b - a), advice);
}

/* Contract in model.h. */
void kl_model_advise_rows(const struct kl_model *m)
{
    static const char *const rows[] = {"input", KL_QUANT_T_Q,
                                       KL_QUANT_T_CODES};

    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        kl_model_advise_tensor(m, rows[i], MADV_RANDOM);
}
