/*
 * klabel: the command-line entry point. Dispatches `klabel <command>` to
 * the kl_cli_* functions (plugin/cli.h) and exits with their code.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "klabel/version.h"

/* Read by jemalloc (the klabel binary's allocator, MALLOC_LIBS in the
 * Makefile) when it starts; ignored under glibc's malloc. MALLOC_CONF in
 * the environment still overrides it. Measurements behind each setting:
 * docs/architecture.md, "Allocator".
 * - oversize_threshold:0: allocations of 8 MiB and more (librdkafka's fetch
 *   responses at klabel's fetch sizes) otherwise go to an arena that hands
 *   their pages back to the kernel at free, so every new response
 *   page-faults its whole size in again.
 * - narenas:1: one arena for all threads. An event's memory is allocated
 *   on one thread and freed on another; with jemalloc's default of 4
 *   arenas per CPU each arena kept its own half-empty pages (with one:
 *   RssAnon after a saturation round about halved, its peak ~20% lower,
 *   CPU per event unchanged). Threads still allocate from their own
 *   caches.
 * Huge pages (thp:always) were measured and are not used. */
const char *malloc_conf = "oversize_threshold:0,narenas:1";

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(int argc, char **argv);
    } cmds[] = {
        {"run", kl_cli_run},         {"config", kl_cli_config},
        {"train", kl_cli_train},     {"predict", kl_cli_predict},
        {"inspect", kl_cli_inspect}, {"demo", kl_cli_demo},
        {"eval", kl_cli_eval},
        {"tokenize", kl_cli_tokenize},
        {"import", kl_cli_import},
        {"quantize", kl_cli_quantize},
    };
    size_t i;

    if (argc < 2) {
        kl_cli_usage(stderr);
        return KL_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
        printf("klabel %s\n", KL_VERSION);
        return KL_EXIT_OK;
    }
    if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") ||
        !strcmp(argv[1], "-h")) {
        kl_cli_usage(stdout);
        return KL_EXIT_OK;
    }
    for (i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(argv[1], cmds[i].name))
            return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "klabel: unknown command '%s'\n\n", argv[1]);
    kl_cli_usage(stderr);
    return KL_EXIT_USAGE;
}
