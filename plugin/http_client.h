/*
 * A small blocking HTTP client for the Schema Registry: one libcurl easy
 * handle (kept alive between requests), bounded time and response size,
 * http/https only, no redirects. Debian's libcurl is a well-kept HTTP
 * client (TLS, proxies, IPv6, keep-alive), so we do not write our own.
 */
#ifndef KL_PLUGIN_HTTP_CLIENT_H
#define KL_PLUGIN_HTTP_CLIENT_H

#include <stddef.h>

#include "buf.h"

struct kl_http; /* opaque; one thread at a time */

/* Creates a client whose requests each take at most timeout_ms (connect
 * included) and whose responses are refused past max_bytes. On success
 * *out is caller-owned: kl_http_destroy(). Returns 0, KL_ENOMEM or
 * KL_EINVAL (reason in err). */
int kl_http_create(int timeout_ms, size_t max_bytes, struct kl_http **out,
                   char *err, size_t errsz);

/* Frees h (NULL is fine). */
void kl_http_destroy(struct kl_http *h);

/* Sends one request: method "GET" or "POST" (body[0..body_len) with
 * content_type; both NULL/0 for GET) to url, which may hold user:password
 * (basic auth; never logged nor put in err). On 0 *status is the HTTP
 * status and resp holds the body (reset first; NUL-terminated). Returns 0
 * (any status), KL_EIO (no answer: connection, timeout, TLS; or a body over
 * max_bytes) or KL_ENOMEM, with a reason in err naming the redacted URL. */
int kl_http_request(struct kl_http *h, const char *method, const char *url,
                    const char *content_type, const void *body,
                    size_t body_len, long *status, struct kl_buf *resp,
                    char *err, size_t errsz);

/* Writes url with any "user:password@" replaced by "***@" into out
 * (always NUL-terminated, cut to outsz). For logs and errors. */
void kl_http_redact(const char *url, char *out, size_t outsz);

#endif
