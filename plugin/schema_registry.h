/*
 * Schema Registry client: Avro schemas by id, from a local folder
 * (<dir>/<id>.avsc) and/or a Confluent-compatible registry over HTTP
 * (GET /schemas/ids/{id}; POST /subjects/{subject}/versions to register).
 * It only fetches; the Avro decoder caches what it parsed.
 */
#ifndef KL_PLUGIN_SCHEMA_REGISTRY_H
#define KL_PLUGIN_SCHEMA_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

/* kl_sr_fetch(): the registry (or the folder) has no schema of that id. */
#define KL_SR_NOT_FOUND 1

#define KL_SR_MAX_BYTES 1048576 /* largest schema / registry response */

struct kl_sr_opts {
    const char *dir;   /* schema.registry.dir, NULL or "" = none */
    const char *url;   /* schema.registry.url, NULL or "" = none; may hold
                          user:password (never logged) */
    int timeout_ms;    /* per HTTP request; 0 = 5000 */
};

struct kl_sr; /* opaque; thread-safe (one request at a time) */

/* Creates a client. Needs dir or url. Strings are copied. On success *out
 * is caller-owned: kl_sr_destroy(). Returns 0, KL_EINVAL or KL_ENOMEM. */
int kl_sr_create(const struct kl_sr_opts *o, struct kl_sr **out, char *err,
                 size_t errsz);

/* Frees sr (NULL is fine). */
void kl_sr_destroy(struct kl_sr *sr);

/* Fetches the schema text of id: the folder first, then the registry.
 * On 0, *schema is a NUL-terminated string of *len bytes, caller-owned
 * (free()). Returns 0; KL_SR_NOT_FOUND (no such file and no registry, or
 * the registry answered 404); KL_EIO (registry unreachable, timeout, an
 * answer other than 200/404, a body that is not {"schema": "..."}, an
 * unreadable file) or KL_ENOMEM, with a reason in err. */
int kl_sr_fetch(struct kl_sr *sr, int32_t id, char **schema, size_t *len,
                char *err, size_t errsz);

/* Registers schema (Avro JSON) under subject at the registry and sets *id
 * to the id it answers (the existing id when it is already registered).
 * Returns 0, KL_EINVAL (no registry URL), KL_EIO (unreachable, an answer
 * other than 200, no id in it) or KL_ENOMEM, with a reason in err. */
int kl_sr_register(struct kl_sr *sr, const char *subject, const char *schema,
                   int32_t *id, char *err, size_t errsz);

#endif
