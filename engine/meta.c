/*
 * engine/meta.c: the klabel metadata JSON (see meta.h and docs of the model
 * format): strict parsing with errors that name the bad field, and the
 * writer used by training (with the "created" time and the rounding of
 * the numbers its "training" objects hold).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "klabel/engine.h"
#include "error.h"
#include "meta.h"

static const char *const loss_names[] = {"softmax", "ova", "hs"};
static const char *const tok_names[] = {"fasttext", "unicode"};

/* Contract in meta.h. */
const char *kl_meta_loss_name(int loss)
{
    if (loss < 0 || loss > KL_LOSS_HS)
        return "?";
    return loss_names[loss];
}

/* Reads an optional integer field in [lo, hi] (def when absent). */
static int get_int(const cJSON *o, const char *key, int required, double def,
                   double lo, double hi, int64_t *out, char *err,
                   size_t errsz)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    double d = def;

    if (v == NULL && required)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "metadata: \"%s\" is missing", key);
    if (v != NULL) {
        if (!cJSON_IsNumber(v))
            return kl_error_set(err, errsz, KL_EFORMAT,
                                "metadata: \"%s\" is not a number", key);
        d = v->valuedouble;
    }
    if (!(d >= lo && d <= hi)) /* also rejects NaN; makes the cast safe */
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "metadata: \"%s\" is %g, outside [%.0f, %.0f]",
                            key, d, lo, hi);
    if (d != (double)(int64_t)d)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "metadata: \"%s\" is not an integer", key);
    *out = (int64_t)d;
    return KL_OK;
}

/* Copies an optional string field (def when absent). */
static int get_str(const cJSON *o, const char *key, const char *def,
                   char **out, char *err, size_t errsz)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    if (v == NULL && def == NULL)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "metadata: \"%s\" is missing", key);
    if (v != NULL && !cJSON_IsString(v))
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "metadata: \"%s\" is not a string", key);
    *out = strdup(v ? v->valuestring : def);
    return *out ? KL_OK : KL_ENOMEM;
}

/* Index of s in names[0..n), or -1. */
static int find_name(const char *const *names, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return -1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int parse_labels(const cJSON *root, struct kl_meta *m, char *err,
                        size_t errsz)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "labels"), *v;
    char **sorted = NULL;
    int rc = KL_OK, i = 0;

    if (!cJSON_IsArray(a))
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "metadata: \"labels\" is missing or not an array");
    m->nlabels = cJSON_GetArraySize(a);
    if (m->nlabels < 1 || m->nlabels > KL_LABELS_MAX)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "metadata: %d labels, expected 1 to %d",
                            (int)m->nlabels, KL_LABELS_MAX);
    m->labels = calloc((size_t)m->nlabels, sizeof *m->labels);
    sorted = malloc((size_t)m->nlabels * sizeof *sorted);
    if (m->labels == NULL || sorted == NULL) {
        rc = KL_ENOMEM;
        goto out;
    }
    cJSON_ArrayForEach(v, a) {
        size_t n;
        if (!cJSON_IsString(v)) {
            rc = kl_error_set(err, errsz, KL_EFORMAT,
                              "metadata: label %d is not a string", i);
            goto out;
        }
        n = strlen(v->valuestring);
        if (n == 0 || n > KL_LABEL_MAX ||
            kl_utf8_validate(v->valuestring, n, NULL) != KL_OK) {
            rc = kl_error_set(err, errsz, KL_EFORMAT,
                              "metadata: label %d is empty, longer than %d "
                              "bytes or not UTF-8", i, KL_LABEL_MAX);
            goto out;
        }
        if ((m->labels[i] = strdup(v->valuestring)) == NULL) {
            rc = KL_ENOMEM;
            goto out;
        }
        sorted[i] = m->labels[i];
        i++;
    }
    qsort(sorted, (size_t)m->nlabels, sizeof *sorted, cmp_str);
    for (i = 1; i < m->nlabels; i++)
        if (strcmp(sorted[i - 1], sorted[i]) == 0) {
            rc = kl_error_set(err, errsz, KL_EFORMAT,
                              "metadata: label \"%.64s\" appears twice",
                              sorted[i]);
            goto out;
        }
out:
    free(sorted);
    return rc;
}

/* tokenizer.segmenter, .stopwords and .stem (all optional). */
static int parse_tok_extras(const cJSON *t, struct kl_meta *m, char *err,
                            size_t errsz)
{
    const cJSON *seg = cJSON_GetObjectItemCaseSensitive(t, "segmenter");
    const cJSON *stop = cJSON_GetObjectItemCaseSensitive(t, "stopwords");
    const cJSON *stem = cJSON_GetObjectItemCaseSensitive(t, "stem");
    const cJSON *type;
    int rc;

    if (seg != NULL) {
        type = cJSON_GetObjectItemCaseSensitive(seg, "type");
        if (!cJSON_IsObject(seg) || !cJSON_IsString(type) ||
            strcmp(type->valuestring, "jieba") != 0)
            return kl_error_set(err, errsz, KL_EFORMAT,
                                "metadata: tokenizer.segmenter must be an "
                                "object with \"type\": \"jieba\"");
        if ((rc = get_int(seg, "words", 1, 0, 1, 1e15, &m->seg_words, err,
                          errsz)) != KL_OK ||
            (rc = get_int(seg, "total", 1, 0, 1, 1e18, &m->seg_total, err,
                          errsz)) != KL_OK)
            return rc;
        m->seg_on = 1;
    }
    if (stop != NULL) {
        if (!cJSON_IsObject(stop))
            return kl_error_set(err, errsz, KL_EFORMAT,
                                "metadata: tokenizer.stopwords is not an "
                                "object");
        if ((rc = get_int(stop, "count", 1, 0, 0, INT32_MAX, &m->stop_count,
                          err, errsz)) != KL_OK)
            return rc;
        m->stop_on = 1;
    }
    if (stem != NULL) {
        if (!cJSON_IsString(stem) || stem->valuestring[0] == '\0' ||
            strlen(stem->valuestring) >= sizeof m->tok.stem)
            return kl_error_set(err, errsz, KL_EFORMAT,
                                "metadata: tokenizer.stem must be a Snowball "
                                "language name");
        snprintf(m->tok.stem, sizeof m->tok.stem, "%s", stem->valuestring);
    }
    if ((m->seg_on || m->stop_on || m->tok.stem[0]) &&
        m->tok.mode != KL_TOK_UNICODE)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "metadata: tokenizer segmenter, stopwords and "
                            "stem need mode \"unicode\"");
    return KL_OK;
}

static int parse_tokenizer(const cJSON *root, struct kl_meta *m, char *err,
                           size_t errsz)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "tokenizer");
    const cJSON *mode;
    int64_t v;
    int rc;

    m->tok.mode = KL_TOK_FASTTEXT;
    m->tok.max_tokens = 0;
    if (t == NULL)
        return KL_OK;
    if (!cJSON_IsObject(t))
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "metadata: \"tokenizer\" is not an object");
    mode = cJSON_GetObjectItemCaseSensitive(t, "mode");
    if (mode != NULL) {
        int i = cJSON_IsString(mode) ? find_name(tok_names, 2, mode->valuestring) : -1;
        if (i < 0)
            return kl_error_set(err, errsz, KL_EFORMAT,
                                "metadata: tokenizer.mode must be \"fasttext\" "
                                "or \"unicode\"");
        m->tok.mode = i;
    }
    rc = get_int(t, "max_tokens", 0, 0, 0, 1 << 24, &v, err, errsz);
    m->tok.max_tokens = (size_t)v;
    if (rc != KL_OK)
        return rc;
    return parse_tok_extras(t, m, err, errsz);
}

/* "label_counts": nlabels integers in [0, 2^53]; required by loss "hs". */
static int parse_label_counts(const cJSON *root, struct kl_meta *m,
                              char *err, size_t errsz)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "label_counts");
    const cJSON *v;
    int32_t i = 0;

    if (a == NULL && m->loss != KL_LOSS_HS)
        return KL_OK;
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != m->nlabels)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "metadata: \"label_counts\" must be an array of "
                            "%d counts (one per label%s)", (int)m->nlabels,
                            m->loss == KL_LOSS_HS ? "; loss \"hs\" needs it"
                                                  : "");
    m->label_counts = malloc((size_t)m->nlabels * sizeof *m->label_counts);
    if (m->label_counts == NULL)
        return KL_ENOMEM;
    cJSON_ArrayForEach(v, a) {
        double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
        if (!(d >= 0 && d <= 9007199254740992.0) || d != (double)(int64_t)d)
            return kl_error_set(err, errsz, KL_EFORMAT,
                                "metadata: label_counts[%d] is not an "
                                "integer in [0, 2^53]", (int)i);
        m->label_counts[i++] = (int64_t)d;
    }
    return KL_OK;
}

/* Adds "label_counts" when m has them; 1 ok, 0 out of memory. */
static int format_label_counts(const struct kl_meta *m, cJSON *root)
{
    cJSON *a;

    if (m->label_counts == NULL)
        return 1;
    if ((a = cJSON_AddArrayToObject(root, "label_counts")) == NULL)
        return 0;
    for (int32_t i = 0; i < m->nlabels; i++)
        if (!cJSON_AddItemToArray(
                a, cJSON_CreateNumber((double)m->label_counts[i])))
            return 0;
    return 1;
}

/* Contract in meta.h. */
int kl_meta_parse(const char *json, struct kl_meta *m, char *err,
                  size_t errsz)
{
    cJSON *root = NULL;
    const cJSON *loss;
    int64_t v[8];
    int rc;

    memset(m, 0, sizeof *m);
    root = cJSON_Parse(json);
    if (!cJSON_IsObject(root)) {
        rc = kl_error_set(err, errsz, KL_EFORMAT,
                          "metadata: \"klabel\" is not a JSON object");
        goto out;
    }
    if ((rc = get_int(root, "format", 1, 0, KL_META_FORMAT, KL_META_FORMAT,
                      &v[0], err, errsz)) != KL_OK ||
        (rc = get_int(root, "dim", 1, 0, 1, KL_META_DIM_MAX, &v[1], err,
                      errsz)) != KL_OK ||
        (rc = get_int(root, "nwords", 1, 0, 0, INT32_MAX, &v[2], err,
                      errsz)) != KL_OK ||
        (rc = get_int(root, "bucket", 1, 0, 0, INT32_MAX, &v[3], err,
                      errsz)) != KL_OK ||
        (rc = get_int(root, "word_ngrams", 0, 1, 1, KL_META_NGRAMS_MAX,
                      &v[4], err, errsz)) != KL_OK ||
        (rc = get_int(root, "minn", 0, 0, 0, KL_META_NGRAMS_MAX, &v[5], err,
                      errsz)) != KL_OK ||
        (rc = get_int(root, "maxn", 0, 0, 0, KL_META_NGRAMS_MAX, &v[6], err,
                      errsz)) != KL_OK)
        goto out;
    m->dim = (int32_t)v[1];
    m->nwords = (int32_t)v[2];
    m->bucket = (int32_t)v[3];
    m->word_ngrams = (int32_t)v[4];
    m->minn = (int32_t)v[5];
    m->maxn = (int32_t)v[6];
    if (v[2] + v[3] < 1 || v[2] + v[3] > INT32_MAX) {
        rc = kl_error_set(err, errsz, KL_EFORMAT,
                          "metadata: nwords + bucket is %lld, outside [1, "
                          "2147483647]", (long long)(v[2] + v[3]));
        goto out;
    }
    if (m->maxn > 0 && m->minn > m->maxn) {
        rc = kl_error_set(err, errsz, KL_EFORMAT,
                          "metadata: minn %d > maxn %d", (int)m->minn,
                          (int)m->maxn);
        goto out;
    }
    if ((rc = get_str(root, "architecture", NULL, &m->architecture, err,
                      errsz)) != KL_OK)
        goto out;
    if (strcmp(m->architecture, "fasttext") != 0 &&
        strcmp(m->architecture, "bilstm") != 0 && /* nn_meta.c: "nn" */
        strcmp(m->architecture, "textcnn") != 0) {
        rc = kl_error_set(err, errsz, KL_EFORMAT,
                          "metadata: architecture \"%.32s\" is not supported "
                          "(only \"fasttext\", \"bilstm\", \"textcnn\")",
                          m->architecture);
        goto out;
    }
    loss = cJSON_GetObjectItemCaseSensitive(root, "loss");
    m->loss = cJSON_IsString(loss) ? find_name(loss_names, 3, loss->valuestring) : -1;
    if (m->loss < 0) {
        rc = kl_error_set(err, errsz, KL_EFORMAT,
                          "metadata: \"loss\" must be \"softmax\", \"ova\" "
                          "or \"hs\"");
        goto out;
    }
    if ((rc = get_str(root, "id", "", &m->id, err, errsz)) != KL_OK ||
        (rc = get_str(root, "version", "", &m->version, err, errsz)) != KL_OK ||
        (rc = parse_labels(root, m, err, errsz)) != KL_OK ||
        (rc = parse_tokenizer(root, m, err, errsz)) != KL_OK ||
        (rc = parse_label_counts(root, m, err, errsz)) != KL_OK)
        goto out;
    if ((m->json = strdup(json)) == NULL)
        rc = KL_ENOMEM;
out:
    cJSON_Delete(root);
    if (rc != KL_OK)
        kl_meta_fini(m);
    return rc;
}

/* Contract in meta.h. */
void kl_meta_fini(struct kl_meta *m)
{
    for (int32_t i = 0; m->labels != NULL && i < m->nlabels; i++)
        free(m->labels[i]);
    free(m->labels);
    free(m->id);
    free(m->version);
    free(m->architecture);
    free(m->json);
    free(m->label_counts);
    memset(m, 0, sizeof *m);
}

/* Adds tokenizer.segmenter / .stopwords / .stem when set; 1 ok, 0 OOM. */
static int format_tok_extras(const struct kl_meta *m, cJSON *t)
{
    cJSON *o;

    if (m->seg_on) {
        o = cJSON_AddObjectToObject(t, "segmenter");
        if (o == NULL || !cJSON_AddStringToObject(o, "type", "jieba") ||
            !cJSON_AddNumberToObject(o, "words", (double)m->seg_words) ||
            !cJSON_AddNumberToObject(o, "total", (double)m->seg_total))
            return 0;
    }
    if (m->stop_on) {
        o = cJSON_AddObjectToObject(t, "stopwords");
        if (o == NULL ||
            !cJSON_AddNumberToObject(o, "count", (double)m->stop_count))
            return 0;
    }
    if (m->tok.stem[0] != '\0' &&
        !cJSON_AddStringToObject(t, "stem", m->tok.stem))
        return 0;
    return 1;
}

/* Contract in meta.h. */
char *kl_meta_format(const struct kl_meta *m, cJSON *training)
{
    cJSON *root = cJSON_CreateObject(), *a, *t;
    char *out = NULL;
    int ok;

    if (root == NULL) {
        cJSON_Delete(training);
        return NULL;
    }
    ok = cJSON_AddNumberToObject(root, "format", KL_META_FORMAT) &&
         cJSON_AddStringToObject(root, "architecture",
                                 m->architecture ? m->architecture
                                                 : "fasttext") &&
         cJSON_AddStringToObject(root, "id", m->id ? m->id : "") &&
         cJSON_AddStringToObject(root, "version", m->version ? m->version : "") &&
         cJSON_AddStringToObject(root, "loss", kl_meta_loss_name(m->loss)) &&
         cJSON_AddNumberToObject(root, "dim", m->dim) &&
         cJSON_AddNumberToObject(root, "nwords", m->nwords) &&
         cJSON_AddNumberToObject(root, "bucket", m->bucket) &&
         cJSON_AddNumberToObject(root, "word_ngrams", m->word_ngrams) &&
         cJSON_AddNumberToObject(root, "minn", m->minn) &&
         cJSON_AddNumberToObject(root, "maxn", m->maxn);
    a = ok ? cJSON_AddArrayToObject(root, "labels") : NULL;
    for (int32_t i = 0; a != NULL && i < m->nlabels; i++)
        if (!cJSON_AddItemToArray(a, cJSON_CreateString(m->labels[i])))
            a = NULL;
    t = a ? cJSON_AddObjectToObject(root, "tokenizer") : NULL;
    ok = t != NULL &&
         cJSON_AddStringToObject(t, "mode", tok_names[m->tok.mode ? 1 : 0]) &&
         cJSON_AddNumberToObject(t, "max_tokens", (double)m->tok.max_tokens) &&
         format_tok_extras(m, t) && format_label_counts(m, root);
    if (ok && training != NULL) {
        ok = cJSON_AddItemToObject(root, "training", training);
        if (ok)
            training = NULL; /* now owned by root */
    }
    if (ok)
        out = cJSON_PrintUnformatted(root);
    cJSON_Delete(training);
    cJSON_Delete(root);
    return out;
}

/* Contract in meta.h. */
void kl_meta_created(char *buf, size_t n)
{
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    time_t t = sde && *sde ? (time_t)strtoll(sde, NULL, 10) : time(NULL);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Contract in meta.h. */
double kl_meta_round6(double v)
{
    char buf[32];

    snprintf(buf, sizeof buf, "%.6g", v);
    return strtod(buf, NULL);
}
