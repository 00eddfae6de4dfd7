/*
 * buf.c - the writers' growable byte buffer.
 *
 * Design notes
 *  - the first failed append sets `error` and every later append does nothing, so a writer
 *    checks once, at the end;
 *  - multi-byte integers are written little-endian byte by byte, whatever the host.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/ferror.h"
#include "formats/writer.h"

void hfi_buf_free(hfi_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->error = 0;
}

/* Room for `n` more bytes; a pointer to them, or NULL (error set). */
static unsigned char *reserve(hfi_buf_t *b, size_t n)
{
    if (b->error)
        return NULL;
    if (n > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 256;
        unsigned char *p;
        while (cap - b->len < n) {
            if (cap > SIZE_MAX / 2) {
                b->error = HF_ENOMEM;
                return NULL;
            }
            cap *= 2;
        }
        if (!(p = realloc(b->data, cap))) {
            b->error = HF_ENOMEM;
            return NULL;
        }
        b->data = p;
        b->cap = cap;
    }
    return b->data + b->len;
}

void hfi_buf_put(hfi_buf_t *b, const void *p, size_t n)
{
    unsigned char *dst = reserve(b, n);

    if (dst) {
        if (n)
            memcpy(dst, p, n);
        b->len += n;
    }
}

void hfi_buf_put_zeros(hfi_buf_t *b, size_t n)
{
    unsigned char *dst = reserve(b, n);

    if (dst) {
        memset(dst, 0, n);
        b->len += n;
    }
}

void hfi_buf_put_u8(hfi_buf_t *b, uint8_t v)
{
    hfi_buf_put(b, &v, 1);
}

void hfi_buf_put_u32(hfi_buf_t *b, uint32_t v)
{
    unsigned char le[4];
    unsigned i;

    for (i = 0; i < 4; i++)
        le[i] = (unsigned char)(v >> (8 * i));
    hfi_buf_put(b, le, 4);
}

void hfi_buf_put_u64(hfi_buf_t *b, uint64_t v)
{
    hfi_buf_put_u32(b, (uint32_t)v);
    hfi_buf_put_u32(b, (uint32_t)(v >> 32));
}

void hfi_buf_put_gguf_str(hfi_buf_t *b, const char *s, size_t len)
{
    hfi_buf_put_u64(b, len);
    hfi_buf_put(b, s, len);
}

void hfi_buf_put_json_str(hfi_buf_t *b, const char *s)
{
    hfi_buf_put_u8(b, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            hfi_buf_put_u8(b, '\\');
            hfi_buf_put_u8(b, c);
        } else if (c < 0x20)
            hfi_buf_printf(b, "\\u%04x", c);
        else
            hfi_buf_put_u8(b, c);
    }
    hfi_buf_put_u8(b, '"');
}

void hfi_buf_printf(hfi_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    unsigned char *dst;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        if (!b->error)
            b->error = HF_EINVAL;
        return;
    }
    if (!(dst = reserve(b, (size_t)n + 1)))
        return;
    va_start(ap, fmt);
    vsnprintf((char *)dst, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

int hfi_buf_write_file(const hfi_buf_t *b, const char *path, hf_error_t *err)
{
    size_t done = 0;
    int fd;

    if (b->error)
        return hfi_ferr(err, b->error, path, "buffer incomplete");
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return hfi_ferr(err, HF_EIO, path, "cannot create (errno %d)", errno);
    while (done < b->len) {
        ssize_t n = write(fd, b->data + done, b->len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = errno;
            close(fd);
            return hfi_ferr(err, HF_EIO, path, "cannot write (errno %d)", e);
        }
        done += (size_t)n;
    }
    if (close(fd) != 0)
        return hfi_ferr(err, HF_EIO, path, "cannot close (errno %d)", errno);
    return 0;
}
