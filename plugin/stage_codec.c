/*
 * The stage's codecs (plugin/stage_priv.h): the source thread's decoder
 * (input.format), one encoder per worker (output.format; Avro-C values are
 * not shared across threads) and the explanation of each result when
 * output.explain is set. Kept apart from stage.c / stage_out.c so the run
 * loop only makes one call per message and one per result.
 */
#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "config.h"
#include "log.h"
#include "stage_priv.h"

/* Contract in stage_priv.h. */
int kl_stage_codecs_init(struct kl_stage *s, const struct kl_config *cfg,
                         char *err, size_t errsz)
{
    int i, rc;

    rc = kl_decoder_create(cfg, &s->dec, err, errsz);
    for (i = 0; !rc && s->w && i < s->nworkers; i++) {
        kl_explanation_init(&s->w[i].xpl);
        rc = kl_encoder_create(cfg, &s->w[i].encoder, err, errsz);
    }
    if (!rc && s->w && s->nworkers > 0)
        s->explain = kl_encoder_explain(s->w[0].encoder);
    if (!rc)
        KL_LOG(KL_LOG_INFO, COMP, "input.format=%s output.format=%s%s%s",
               kl_config_get(cfg, "input.format"),
               kl_config_get(cfg, "output.format"),
               s->explain ? ", with explanations" : "",
               kl_config_get_bool(cfg, "output.include.text")
                   ? ", with the input text" : "");
    return rc;
}

/* Contract in stage_priv.h. */
void kl_stage_codecs_fini(struct kl_stage *s)
{
    int i;

    kl_decoder_destroy(s->dec);
    s->dec = NULL;
    for (i = 0; s->w && i < s->nworkers; i++) {
        kl_encoder_destroy(s->w[i].encoder);
        s->w[i].encoder = NULL;
        kl_explanation_fini(&s->w[i].xpl);
    }
}

/* Contract in stage_priv.h. */
int kl_stage_encode_result(struct kl_stage *s, struct kl_worker *w,
                           struct kl_batch *b, size_t i,
                           const struct kl_source *src)
{
    const struct kl_route_model *rm = &s->routes.models[b->model];
    const struct kl_prediction *p = &b->pred[i];
    const struct kl_explanation *x = NULL;
    int rc;

    if (s->explain && p->k > 0) {
        rc = kl_model_explain(rm->model, &b->feat[i], p->label[0], s->explain,
                              &w->xpl);
        if (rc == KL_ENOMEM)
            return rc;
        if (rc == KL_OK)
            x = &w->xpl;
        else /* an architecture without explanations: results go without */
            KL_LOG(KL_LOG_DEBUG, COMP, "explain: %s", kl_strerror(rc));
    }
    return kl_encoder_encode(w->encoder, &b->ev[i], p, rm->mi, src, x, &w->enc);
}
