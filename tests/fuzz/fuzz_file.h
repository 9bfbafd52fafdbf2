/*
 * tests/fuzz/fuzz_file.h: the fuzz input as a file, for readers that take
 * a path (fuzz_config, fuzz_pretrained): one memfd per process, rewritten
 * for each input, named by /proc/self/fd/N.
 */
#ifndef KL_FUZZ_FILE_H
#define KL_FUZZ_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_check.h"

/* Writes data[0..size) as the whole content of the process's input file
 * and returns its path (static, the same for every call). */
static const char *fuzz_input_path(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];

    if (fd < 0) {
        fd = memfd_create("fuzz_input", 0);
        CHECK(fd >= 0, "memfd_create");
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    CHECK(ftruncate(fd, 0) == 0, "ftruncate");
    CHECK(size == 0 || pwrite(fd, data, size, 0) == (ssize_t)size, "pwrite");
    return path;
}

#endif
