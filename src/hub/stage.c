/*
 * stage.c - a write stage (stage.h): body pieces gathered into large pwrite()s.
 *
 * Design notes
 *  - invariant: buf[0 .. len) holds the bytes for [off, off + len) of the file, and
 *    nothing else the stream wrote is missing from the file;
 *  - a write that does not continue the staged bytes, or does not fit after them, writes
 *    them out first; one at least as large as the stage, arriving when it is empty, goes
 *    straight to the file;
 *  - on a failed write the staged bytes are dropped: the stream's owner fails the download
 *    and removes the partial file, so nothing half-written is ever taken for complete;
 *  - no lock: a stage belongs to one stream (stage.h).
 */
#include "config.h"

#include "hub/stage.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "hub/writeback.h"

void hfi_stage_init(hfi_stage_t *s, size_t cap, int writeback)
{
    s->buf = NULL;
    s->cap = cap;
    s->len = 0;
    s->off = 0;
    s->writeback = writeback;
}

/* pwrite all of it; then, with writeback, start the step the write filled on to disk. */
static int write_all(const hfi_stage_t *s, int fd, const char *p, size_t n, uint64_t off)
{
    uint64_t step_end = (off + n) / HFI_WRITEBACK_STEP * HFI_WRITEBACK_STEP;

    for (size_t done = 0; done < n;) {
        ssize_t w = pwrite(fd, p + done, n - done, (off_t)(off + done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return -1;
        }
        done += (size_t)w;
    }
    if (s->writeback && step_end > off)
        hfi_writeback_start(fd, step_end - HFI_WRITEBACK_STEP, HFI_WRITEBACK_STEP);
    return 0;
}

/* Write out the staged bytes, keeping the buffer. */
static int write_out(hfi_stage_t *s, int fd)
{
    size_t n = s->len;

    s->len = 0;
    return n ? write_all(s, fd, s->buf, n, s->off) : 0;
}

int hfi_stage_write(hfi_stage_t *s, int fd, const void *p, size_t n, uint64_t off)
{
    if (s->len && (off != s->off + s->len || n > s->cap - s->len) && write_out(s, fd) < 0)
        return -1;
    if (s->len == 0 && n >= s->cap)
        return write_all(s, fd, p, n, off);
    if (!s->buf && (s->buf = hfi_malloc(s->cap)) == NULL)
        return write_all(s, fd, p, n, off);
    if (s->len == 0)
        s->off = off;
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    return s->len == s->cap ? write_out(s, fd) : 0;
}

int hfi_stage_flush(hfi_stage_t *s, int fd)
{
    int rc = write_out(s, fd);
    int saved = errno;

    hfi_free(s->buf);
    s->buf = NULL;
    errno = saved;
    return rc;
}

void hfi_stage_drop(hfi_stage_t *s)
{
    s->len = 0;
    hfi_free(s->buf);
    s->buf = NULL;
}
