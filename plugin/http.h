/*
 * The stage's small HTTP server (libmicrohttpd, one internal polling
 * thread): GET /metrics (Prometheus text format 0.0.4 of a metrics
 * registry), /healthz and /readyz (200 or 503 with a one-line JSON body
 * saying why, from plugin/health.h). Any other path is 404, any method but
 * GET and HEAD is 405. Bounded: at most 16 connections, 10 s idle timeout,
 * 32 KiB of memory per connection, no request body accepted.
 */
#ifndef KL_PLUGIN_HTTP_H
#define KL_PLUGIN_HTTP_H

#include <stddef.h>

struct kl_metrics;
struct kl_http; /* opaque */

/* Starts serving on bind:port (bind: a numeric IPv4 or IPv6 address, or a
 * host name that resolves to one; port 0 = any free port, see
 * kl_http_port()). reg is borrowed and must outlive the server. On
 * success *out is caller-owned: kl_http_stop(). Returns 0, KL_EINVAL (bad
 * address) or KL_EIO (cannot bind, with the reason in err). */
int kl_http_start(const char *bind, int port, struct kl_metrics *reg,
                  struct kl_http **out, char *err, size_t errsz);

/* The port it listens on. */
int kl_http_port(const struct kl_http *h);

/* Stops the server (waits for its thread) and frees h. NULL is fine. */
void kl_http_stop(struct kl_http *h);

#endif
