/*
 * Monitoring of a `klabel run` process (plugin/monitor.h): wires the
 * metrics catalogue, health, the watchdog and the HTTP server together
 * from the configuration. Holds no state of its own beyond the server.
 */
#include "monitor.h"

#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "health.h"
#include "http.h"
#include "klabel/engine.h"
#include "metrics.h"
#include "stage.h"

struct kl_monitor {
    struct kl_http *http;
    int watchdog;
};

/* Collect callback: klabel_healthy and klabel_ready, read at scrape time. */
static void collect_health(void *ud)
{
    (void)ud;
    kl_metrics_set_health(kl_health_live(0, NULL, 0),
                          kl_health_ready(NULL, 0));
}

static int stage_assigned(const void *ud)
{
    return kl_stage_assigned(ud);
}

int kl_monitor_start(const struct kl_config *cfg, struct kl_monitor **out,
                     char *err, size_t errsz)
{
    static int collecting; /* collect_health registered (once a process) */
    struct kl_monitor *m = NULL;
    int port = (int)kl_config_get_int(cfg, "metrics.port");
    int rc;

    *out = NULL;
    m = calloc(1, sizeof *m);
    if (!m) {
        rc = KL_ENOMEM;
        goto out;
    }
    rc = kl_metrics_stage_init(err, errsz);
    if (rc)
        goto out;
    if (!collecting) {
        rc = kl_metrics_on_collect(kl_metrics_global(), collect_health, NULL);
        if (rc)
            goto out;
        collecting = 1;
    }
    kl_health_configure(kl_config_get_int(cfg, "watchdog.ms"),
                        kl_config_get_int(cfg, "debug.worker.stall.ms"));
    rc = kl_health_watchdog_start();
    if (rc)
        goto out;
    m->watchdog = 1;
    if (port) {
        rc = kl_http_start(kl_config_get(cfg, "metrics.bind"), port,
                           kl_metrics_global(), &m->http, err, errsz);
        if (rc)
            goto out;
    }
    *out = m;
    m = NULL;
out:
    if (rc == KL_ENOMEM)
        snprintf(err, errsz, "monitor: out of memory");
    else if (rc == KL_EIO && m && !m->watchdog)
        snprintf(err, errsz, "watchdog: cannot start its thread");
    kl_monitor_stop(m);
    return rc;
}

void kl_monitor_attach(struct kl_monitor *m, const struct kl_stage *s)
{
    (void)m;
    kl_health_set_assigned_probe(stage_assigned, s);
    kl_health_set_model_loaded(1);
}

int kl_monitor_port(const struct kl_monitor *m)
{
    return m ? kl_http_port(m->http) : 0;
}

void kl_monitor_stop(struct kl_monitor *m)
{
    if (!m)
        return;
    kl_http_stop(m->http);
    if (m->watchdog)
        kl_health_watchdog_stop();
    kl_health_set_assigned_probe(NULL, NULL);
    kl_health_set_model_loaded(0);
    free(m);
}
