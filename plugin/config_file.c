/*
 * The properties-file reader of the stage configuration (plugin/config.h):
 * Java-style "key=value" lines in, kl_config_set() calls out, with errors
 * that name the file and line.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "klabel/engine.h"
#include "str.h"

#define KL_CFG_LINE_MAX 65536 /* bytes in one (logical) properties line */

/* Reads one physical line (without "\n" or "\r\n") into buf, which has
 * room for KL_CFG_LINE_MAX + 2 bytes. Returns 1, 0 at end of file, -1 if
 * longer than KL_CFG_LINE_MAX, -2 on a read error. */
static int read_line(FILE *f, char *buf, size_t *len)
{
    size_t n = 0;
    int ch;

    while ((ch = getc(f)) != EOF && ch != '\n') {
        if (n == KL_CFG_LINE_MAX + 1)
            return -1;
        buf[n++] = (char)ch;
    }
    if (ch == EOF) {
        if (ferror(f))
            return -2;
        if (n == 0)
            return 0;
    }
    if (n && buf[n - 1] == '\r')
        n--;
    if (n > KL_CFG_LINE_MAX)
        return -1;
    buf[n] = '\0';
    *len = n;
    return 1;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Reads 4 hex digits at s; -1 if they are not there. */
static long hex4(const char *s, const char *end)
{
    long v = 0;
    int i;

    if (end - s < 4)
        return -1;
    for (i = 0; i < 4; i++) {
        int h = hexval((unsigned char)s[i]);

        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Java properties escapes, in place: \t \n \r \f, \uXXXX (UTF-16, written
 * as UTF-8), and \x for any other x. The result is never longer.
 * Returns 0 or KL_EINVAL (bad \u escape). */
static int unescape(char *s, size_t n, size_t *out_len)
{
    const char *r = s, *end = s + n;
    char *w = s;

    while (r < end) {
        long cp, lo;

        if (*r != '\\') {
            *w++ = *r++;
            continue;
        }
        r++;
        if (r == end)
            break; /* a lone trailing backslash is dropped, as Java does */
        switch (*r) {
        case 't': *w++ = '\t'; r++; continue;
        case 'n': *w++ = '\n'; r++; continue;
        case 'r': *w++ = '\r'; r++; continue;
        case 'f': *w++ = '\f'; r++; continue;
        case 'u': break;
        default: *w++ = *r++; continue;
        }
        cp = hex4(r + 1, end);
        if (cp < 0)
            return KL_EINVAL;
        r += 5;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            return KL_EINVAL;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (end - r < 6 || r[0] != '\\' || r[1] != 'u')
                return KL_EINVAL;
            lo = hex4(r + 2, end);
            if (lo < 0xDC00 || lo > 0xDFFF)
                return KL_EINVAL;
            r += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        if (cp == 0)
            return KL_EINVAL; /* NUL cannot live in a C string */
        /* UTF-8 is at most 4 bytes, the escape at least 6: fits in place */
        if (cp < 0x80) {
            *w++ = (char)cp;
        } else if (cp < 0x800) {
            *w++ = (char)(0xC0 | (cp >> 6));
            *w++ = (char)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            *w++ = (char)(0xE0 | (cp >> 12));
            *w++ = (char)(0x80 | ((cp >> 6) & 0x3F));
            *w++ = (char)(0x80 | (cp & 0x3F));
        } else {
            *w++ = (char)(0xF0 | (cp >> 18));
            *w++ = (char)(0x80 | ((cp >> 12) & 0x3F));
            *w++ = (char)(0x80 | ((cp >> 6) & 0x3F));
            *w++ = (char)(0x80 | (cp & 0x3F));
        }
    }
    *w = '\0';
    *out_len = (size_t)(w - s);
    return 0;
}

/* 1 when s[0..n) ends in an odd number of backslashes (a continuation). */
static int continues(const char *s, size_t n)
{
    size_t k = 0;

    while (k < n && s[n - 1 - k] == '\\')
        k++;
    return k % 2 == 1;
}

/* Parses one logical line (comments and blanks already skipped): the key
 * ends at the first unescaped '=', ':' or white space; then white space,
 * at most one '=' or ':', white space, and the value to the end of the
 * line (trailing white space trimmed). */
static int parse_line(struct kl_config *c, char *s, size_t n, char *err,
                      size_t errsz)
{
    size_t i = 0, kend, vbeg, klen, vlen;
    int sep = 0;

    while (i < n && kl_str_is_space((unsigned char)s[i]))
        i++;
    s += i;
    n -= i;
    for (i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n) {
            i++;
            continue;
        }
        if (s[i] == '=' || s[i] == ':' || kl_str_is_space((unsigned char)s[i]))
            break;
    }
    kend = i;
    while (i < n && kl_str_is_space((unsigned char)s[i]))
        i++;
    if (i < n && (s[i] == '=' || s[i] == ':')) {
        sep = 1;
        i++;
        while (i < n && kl_str_is_space((unsigned char)s[i]))
            i++;
    }
    vbeg = i;
    if (!sep && vbeg == n) {
        kl_str_format(err, errsz, "expected key=value, got '%.*s'",
                      (int)(n > 80 ? 80 : n), s);
        return KL_EINVAL;
    }
    while (n > vbeg && kl_str_is_space((unsigned char)s[n - 1]) &&
           !(n - 1 > vbeg && s[n - 2] == '\\'))
        n--;
    s[kend] = '\0';
    s[n] = '\0';
    if (unescape(s, kend, &klen) != 0 || unescape(s + vbeg, n - vbeg, &vlen) != 0) {
        kl_str_format(err, errsz, "malformed \\uXXXX escape");
        return KL_EINVAL;
    }
    if (klen == 0) {
        kl_str_format(err, errsz, "empty key");
        return KL_EINVAL;
    }
    return kl_config_set(c, s, s + vbeg, err, errsz);
}

/* Reads a Java-style properties file into c (see config.h): a UTF-8 BOM at
 * the start and CRLF line ends are accepted, a line ending in an odd
 * number of backslashes continues on the next, lines are at most 64 KiB.
 * Errors read "path:line: reason" (a NUL byte in a setting is one). Keys
 * set before a failing line stay set.
 * Returns 0, KL_EIO, KL_EINVAL, KL_ERANGE or KL_ENOMEM. */
int kl_config_load_file(struct kl_config *c, const char *path, char *err,
                        size_t errsz)
{
    char *phys = NULL, *logical = NULL, why[512];
    size_t plen = 0, llen = 0;
    int lineno = 0, start = 0, rc = 0, r, cont = 0;
    FILE *f = fopen(path, "rb");

    if (!f) {
        kl_str_format(err, errsz, "%s: cannot open: %s", path, strerror(errno));
        return KL_EIO;
    }
    phys = malloc(KL_CFG_LINE_MAX + 2);
    logical = malloc(KL_CFG_LINE_MAX + 1);
    if (!phys || !logical) {
        kl_str_format(err, errsz, "%s: out of memory", path);
        rc = KL_ENOMEM;
        goto out;
    }
    for (;;) {
        const char *p;

        r = read_line(f, phys, &plen);
        if (r == -2) {
            kl_str_format(err, errsz, "%s:%d: read error: %s", path, lineno + 1,
                          strerror(errno));
            rc = KL_EIO;
            goto out;
        }
        if (r == -1) {
            kl_str_format(err, errsz, "%s:%d: line is longer than %d bytes", path,
                          lineno + 1, KL_CFG_LINE_MAX);
            rc = KL_ERANGE;
            goto out;
        }
        if (r == 0 && !cont)
            break;
        lineno++;
        p = phys;
        if (r == 0) {
            plen = 0; /* continuation at end of file: finish the line */
        } else if (lineno == 1 && plen >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3)) {
            p += 3;
            plen -= 3;
        }
        if (!cont) {
            size_t i = 0;

            while (i < plen && kl_str_is_space((unsigned char)p[i]))
                i++;
            if (i == plen || p[i] == '#' || p[i] == '!')
                continue; /* r == 1 here */
            start = lineno;
            llen = 0;
        } else {
            while (plen && kl_str_is_space((unsigned char)*p)) {
                p++;
                plen--;
            }
        }
        cont = r != 0 && continues(p, plen);
        if (cont)
            plen--;
        if (llen + plen > KL_CFG_LINE_MAX) {
            kl_str_format(err, errsz, "%s:%d: line is longer than %d bytes", path,
                          start, KL_CFG_LINE_MAX);
            rc = KL_ERANGE;
            goto out;
        }
        memcpy(logical + llen, p, plen);
        llen += plen;
        logical[llen] = '\0';
        if (cont)
            continue; /* r == 1 here */
        if (memchr(logical, '\0', llen) != NULL) { /* would cut key or value */
            kl_str_format(err, errsz, "%s:%d: NUL byte in the line", path, start);
            rc = KL_EINVAL;
            goto out;
        }
        rc = parse_line(c, logical, llen, why, sizeof(why));
        if (rc != 0) {
            kl_str_format(err, errsz, "%s:%d: %s", path, start, why);
            goto out;
        }
        if (r == 0)
            break;
    }
out:
    free(phys);
    free(logical);
    fclose(f);
    return rc;
}
