/*
 * tests/unit/config_helpers.h: what test_config.c and test_config_file.c
 * share: an error buffer, a temp file writer, loading a config from a
 * string and a config with the required keys set. Static: each test
 * binary includes it once.
 */
#ifndef KL_TESTS_CONFIG_HELPERS_H
#define KL_TESTS_CONFIG_HELPERS_H

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "klabel/engine.h"

static char err[1024];

/* Writes content (n bytes) to a fresh temp file; returns its path (static). */
static inline const char *write_tmp(const char *content, size_t n)
{
    static char path[64];
    int fd;

    strcpy(path, "/tmp/kl_test_cfg_XXXXXX");
    fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, content, n), (ssize_t)n);
    close(fd);
    return path;
}

static inline struct kl_config *load_str(const char *content, int *rc)
{
    struct kl_config *c = kl_config_create();
    const char *path;

    cr_assert_not_null(c);
    path = write_tmp(content, strlen(content));
    err[0] = '\0';
    *rc = kl_config_load_file(c, path, err, sizeof(err));
    unlink(path);
    return c;
}

static inline struct kl_config *set_required(void)
{
    struct kl_config *c = kl_config_create();

    cr_assert_not_null(c);
    cr_assert_eq(kl_config_set(c, "input.topics", "news", err, sizeof(err)), 0);
    cr_assert_eq(kl_config_set(c, "output.topic", "labels", err, sizeof(err)), 0);
    cr_assert_eq(kl_config_set(c, "model.path", "/m.safetensors", err, sizeof(err)), 0);
    return c;
}

#endif
