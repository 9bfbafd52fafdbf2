/*
 * engine/file.c: opening a regular file for reading (see file.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "klabel/engine.h"
#include "error.h"
#include "file.h"

/* Contract in file.h. */
int kl_file_open_regular(const char *path, int *fd, struct stat *st,
                         char *err, size_t errsz)
{
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0)
        return kl_error_set(err, errsz, KL_EIO, "%s: cannot open: %s", path,
                            strerror(errno));
    if (fstat(*fd, st) != 0 || !S_ISREG(st->st_mode)) {
        close(*fd);
        *fd = -1;
        return kl_error_set(err, errsz, KL_EIO, "%s: not a regular file",
                            path);
    }
    return KL_OK;
}
