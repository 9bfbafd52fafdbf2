/*
 * engine/file.h: opening the model files the engine maps (safetensors and
 * fastText .bin/.ftz), with the same checks and error texts for both.
 * Not installed.
 */
#ifndef KL_ENGINE_FILE_H
#define KL_ENGINE_FILE_H

#include <stddef.h>
#include <sys/stat.h>

/* Opens path read-only (O_CLOEXEC) into *fd and fstat()s it into *st.
 * Returns 0 with *fd owned by the caller (close()), or KL_EIO with
 * "PATH: cannot open: REASON" or "PATH: not a regular file" in err and
 * *fd == -1 (nothing left open). */
int kl_file_open_regular(const char *path, int *fd, struct stat *st,
                         char *err, size_t errsz);

#endif /* KL_ENGINE_FILE_H */
