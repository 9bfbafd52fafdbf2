/*
 * `klabel run` (the stage, until SIGINT/SIGTERM) and `klabel config`
 * (the configuration reference). Signals only set the stage's stop flag;
 * a second signal ends the process at once (SA_RESETHAND).
 */
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "log.h"
#include "monitor.h"
#include "stage.h"

static struct kl_stage *running_stage; /* the stage signals stop */

static void on_signal(int sig)
{
    (void)sig;
    if (running_stage)
        kl_stage_stop(running_stage);
}

static void run_usage(FILE *out)
{
    fprintf(out,
            "Usage: klabel run -c FILE [-X key=value ...]\n"
            "       klabel run --help\n\n"
            "Consumes input.topics, labels each event with model.path and\n"
            "produces results to output.topic (bad input to dlq.topic),\n"
            "at-least-once. SIGINT/SIGTERM stop it cleanly.\n\n"
            "  -c, --config FILE   properties file\n"
            "  -X key=value        set one key (after the file; repeatable)\n"
            "  -h, --help          this text and the configuration keys\n\n");
}

static int install_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL))
        return -1;
    return 0;
}

int kl_cli_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    struct kl_config *cfg = NULL;
    struct kl_stage *s = NULL;
    struct kl_monitor *mon = NULL;
    char err[1024];
    const char *file = NULL;
    int c, rc = KL_EXIT_FAIL, lvl, i, nx = 0;
    char **xs = calloc((size_t)argc + 1, sizeof *xs);

    if (!xs)
        goto out;
    optind = 0;
    while ((c = getopt_long(argc, argv, "+c:X:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': file = optarg; break;
        case 'X': xs[nx++] = optarg; break;
        case 'h':
            run_usage(stdout);
            kl_config_print_help(stdout);
            rc = KL_EXIT_OK;
            goto out;
        default:
            run_usage(stderr);
            rc = KL_EXIT_USAGE;
            goto out;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "klabel run: unexpected argument '%s'\n",
                argv[optind]);
        run_usage(stderr);
        rc = KL_EXIT_USAGE;
        goto out;
    }
    cfg = kl_config_create();
    if (!cfg) {
        fprintf(stderr, "klabel run: out of memory\n");
        goto out;
    }
    if (file && kl_config_load_file(cfg, file, err, sizeof err)) {
        fprintf(stderr, "klabel run: %s\n", err);
        rc = KL_EXIT_USAGE; /* a bad key or value: named in err */
        goto out;
    }
    for (i = 0; i < nx; i++) {
        if (kl_config_set_kv(cfg, xs[i], err, sizeof err)) {
            fprintf(stderr, "klabel run: -X %s: %s\n", xs[i], err);
            rc = KL_EXIT_USAGE;
            goto out;
        }
    }
    lvl = kl_log_parse_level(kl_config_get(cfg, "log.level"));
    if (lvl >= 0)
        kl_log_level = lvl;
    if (kl_config_validate(cfg, err, sizeof err)) { /* required keys */
        fprintf(stderr, "klabel run: %s\n", err);
        rc = KL_EXIT_USAGE;
        goto out;
    }
    if ((i = kl_monitor_start(cfg, &mon, err, sizeof err)) != 0) {
        fprintf(stderr, "klabel run: %s\n", err); /* metrics, health */
        rc = i == KL_EINVAL ? KL_EXIT_USAGE : KL_EXIT_FAIL;
        goto out;
    }
    if (kl_stage_create(cfg, NULL, &s, err, sizeof err)) {
        fprintf(stderr, "klabel run: %s\n", err);
        goto out;
    }
    kl_config_destroy(cfg);
    cfg = NULL;
    kl_monitor_attach(mon, s);
    running_stage = s;
    if (install_signals()) {
        fprintf(stderr, "klabel run: cannot install signal handlers\n");
        goto out;
    }
    if (kl_stage_run(s, err, sizeof err)) {
        KL_LOG(KL_LOG_ERR, "run", "exiting with an error: %s", err);
        goto out;
    }
    rc = KL_EXIT_OK;
out:
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    running_stage = NULL;
    kl_monitor_stop(mon);
    kl_stage_destroy(s);
    kl_config_destroy(cfg);
    free(xs);
    return rc;
}

int kl_cli_config(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--markdown")) {
        kl_config_print_markdown(stdout);
        return KL_EXIT_OK;
    }
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        kl_config_print_help(stdout);
        return KL_EXIT_OK;
    }
    fprintf(stderr, "Usage: klabel config --markdown | --help\n");
    return KL_EXIT_USAGE;
}
