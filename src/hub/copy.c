/*
 * copy.c - hfi_copy_file: a complete copy appears at its path at once (copy.h).
 *
 * Design notes
 *  - Linux path: open(dir, O_TMPFILE) gives an unnamed file in the destination's folder
 *    (same file system, so it can be linked there); the bytes go in, fsync, then
 *    linkat("/proc/self/fd/N", to, AT_SYMLINK_FOLLOW) names it. linkat never replaces: when
 *    `to` exists, the file is linked under `<to>.<pid>.copy` and renamed over it;
 *  - where O_TMPFILE or the /proc link is refused (old kernels, file systems without it,
 *    no /proc), the portable path runs instead, from the start: `<to>.<pid>.copy` created
 *    O_EXCL | O_NOFOLLOW, filled, synced, renamed. A process killed mid-copy there leaves
 *    that file (the only path that can);
 *  - copy_file_range moves the bytes inside the kernel; EXDEV, ENOSYS, EOPNOTSUPP or
 *    EINVAL on the first call fall back to read/write (nothing was written yet);
 *  - no lock: two processes copying the same blob to the same path each write their own
 *    file and the last rename wins; both are complete copies of the same bytes.
 */
#include "config.h"

#if defined(HAVE_COPY_FILE_RANGE) || defined(HAVE_O_TMPFILE)
#define _GNU_SOURCE 1
#endif

#include "hub/copy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "hub/cache.h"
#include "hub/names.h"

static atomic_int portable_only;

void hfi_copy_test_portable(int on)
{
    atomic_store(&portable_only, on != 0);
}

/* All of `in` into `out` (both at offset 0). 0, or -1 with errno set. */
static int copy_bytes(int in, int out)
{
    char buf[65536];
    ssize_t n;

#ifdef HAVE_COPY_FILE_RANGE
    if (!atomic_load(&portable_only)) {
        int first = 1;
        for (;;) {
            n = copy_file_range(in, NULL, out, NULL, (size_t)1 << 30, 0);
            if (n == 0)
                return 0;
            if (n > 0) {
                first = 0;
                continue;
            }
            if (errno == EINTR)
                continue;
            if (first && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP ||
                          errno == EINVAL))
                break;          /* not here: read/write below, from the start */
            return -1;
        }
    }
#endif
    while ((n = read(in, buf, sizeof buf)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        for (ssize_t done = 0; done < n;) {
            ssize_t w = write(out, buf + done, (size_t)(n - done));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                if (w == 0)
                    errno = EIO;
                return -1;
            }
            done += w;
        }
    }
    return 0;
}

/* Fill `out` from `from` and sync it. 0 or HF_EIO (in *err). */
static int fill(const char *from, int out, const char *name, hf_error_t *err)
{
    int in = open(from, O_RDONLY | O_CLOEXEC), rc = 0;

    if (in < 0)
        return hf_error_set(err, HF_EIO, 0, "cannot copy %s: %s", from, strerror(errno));
    if (copy_bytes(in, out) < 0 || fsync(out) < 0)
        rc = hf_error_set(err, HF_EIO, 0, "cannot copy %s into %s: %s", from, name,
                          strerror(errno));
    close(in);
    return rc;
}

/* The temporary name beside `to` (malloc'd; NULL if memory is short). */
static char *temp_name(const char *to)
{
    return hfi_strfmt("%s.%lx.copy", to, (unsigned long)getpid());
}

/* Rename `tmp` over `to`; on failure `tmp` is removed. 0 or HF_EIO (in *err). */
static int rename_into(const char *tmp, const char *to, hf_error_t *err)
{
    int rc;

    if (rename(tmp, to) == 0)
        return 0;
    rc = hf_error_set(err, HF_EIO, 0, "cannot rename into %s: %s", to, strerror(errno));
    unlink(tmp);
    return rc;
}

/* The portable path: <to>.<pid>.copy, filled, synced, renamed over `to`. */
static int copy_named(const char *from, const char *to, hf_error_t *err)
{
    char *tmp = temp_name(to);
    int out, rc;

    if (!tmp)
        return HF_ENOMEM;
    unlink(tmp);
    out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (out < 0) {
        rc = hf_error_set(err, HF_EIO, 0, "cannot create %s: %s", tmp, strerror(errno));
        hfi_free(tmp);
        return rc;
    }
    rc = fill(from, out, tmp, err);
    if (close(out) < 0 && rc == 0)
        rc = hf_error_set(err, HF_EIO, 0, "cannot write %s: %s", tmp, strerror(errno));
    if (rc == 0)
        rc = rename_into(tmp, to, err);
    else
        unlink(tmp);
    hfi_free(tmp);
    return rc;
}

#ifdef HAVE_O_TMPFILE
/* The unnamed-file path. Returns 0, HF_ENOMEM, HF_EIO, or 1 when this system refuses it
 * before anything was written (the caller then takes the portable path). */
static int copy_unnamed(const char *from, const char *to, hf_error_t *err)
{
    const char *slash = strrchr(to, '/');
    char *dir = slash ? hfi_strfmt("%.*s", (int)(slash - to), to) : hfi_strdup(".");
    char proc[64], *tmp = NULL;
    int out, rc;

    if (!dir)
        return HF_ENOMEM;
    out = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
    hfi_free(dir);
    if (out < 0)
        return 1;
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", out);
    if (access(proc, F_OK) < 0) {
        close(out);
        return 1;
    }
    if ((rc = fill(from, out, to, err)) < 0)
        goto out;
    if (linkat(AT_FDCWD, proc, AT_FDCWD, to, AT_SYMLINK_FOLLOW) == 0)
        goto out;
    if (errno != EEXIST) {
        rc = hf_error_set(err, HF_EIO, 0, "cannot link %s: %s", to, strerror(errno));
        goto out;
    }
    /* something is there (an older copy, a planted link): replace it by a rename */
    if ((tmp = temp_name(to)) == NULL) {
        rc = HF_ENOMEM;
        goto out;
    }
    unlink(tmp);
    if (linkat(AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) < 0)
        rc = hf_error_set(err, HF_EIO, 0, "cannot link %s: %s", tmp, strerror(errno));
    else
        rc = rename_into(tmp, to, err);
out:
    close(out);
    hfi_free(tmp);
    return rc;
}
#endif

int hfi_copy_file(const char *from, const char *to, hf_error_t *err)
{
#ifdef HAVE_O_TMPFILE
    if (!atomic_load(&portable_only)) {
        int rc = copy_unnamed(from, to, err);
        if (rc <= 0)
            return rc;
    }
#endif
    return copy_named(from, to, err);
}
