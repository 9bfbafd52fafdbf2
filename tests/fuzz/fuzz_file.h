/*
 * tests/fuzz/fuzz_file.h: the fuzz input as a file, for readers that take
 * a path (the model fuzzers through fuzz_model.h, fuzz_config,
 * fuzz_pretrained): one memfd per process (no disk is touched), rewritten
 * for each input and reached as /proc/self/fd/N.
 */
#ifndef KL_FUZZ_FILE_H
#define KL_FUZZ_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_check.h"

static int kl_fuzz_fd = -1; /* the input's memfd, -1 before the first input */
static char kl_fuzz_path[64];

/* Replaces the input file's content by data[0..size) (making the memfd
 * on the first call); returns its path, the same for every call. */
static const char *kl_fuzz_write(const uint8_t *data, size_t size)
{
    size_t done = 0;

    if (kl_fuzz_fd < 0) {
        kl_fuzz_fd = memfd_create("kl_fuzz_input", MFD_CLOEXEC);
        CHECK(kl_fuzz_fd >= 0, "memfd_create failed");
        snprintf(kl_fuzz_path, sizeof kl_fuzz_path, "/proc/self/fd/%d",
                 kl_fuzz_fd);
    }
    CHECK(ftruncate(kl_fuzz_fd, 0) == 0, "ftruncate failed");
    while (done < size) {
        ssize_t w = pwrite(kl_fuzz_fd, data + done, size - done, (off_t)done);

        CHECK(w > 0, "pwrite failed");
        done += (size_t)w;
    }
    return kl_fuzz_path;
}

#endif
