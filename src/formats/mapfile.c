/*
 * mapfile.c - read-only file mappings.
 *
 * Design notes
 *  - the descriptor is closed as soon as the mapping exists; the mapping keeps the file;
 *  - only regular files are mapped: a FIFO or a directory is HF_EIO, never a hang (the
 *    file is opened O_NONBLOCK, which changes nothing for a regular file);
 *  - a file larger than the address space is HF_EIO rather than a truncated view;
 *  - `live` counts the mappings open now, so that tests can see a file unmapped on any
 *    platform (not only where /proc/self/maps lists them).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/ferror.h"
#include "formats/mapfile.h"

static atomic_size_t live;

static int sys_error(hf_error_t *err, int e, const char *path, const char *what)
{
    char reason[128];

    if (strerror_r(e, reason, sizeof reason) != 0)
        reason[0] = '\0';
    return hfi_ferr(err, e == ENOENT ? HF_ENOENT : HF_EIO, path, "cannot %s: %s", what, reason);
}

int hfi_map_open(const char *path, hfi_map_t *m, hf_error_t *err)
{
    struct stat st;
    void *p;
    int fd;

    m->data = NULL;
    m->size = 0;
    if (!path)
        return hfi_ferr(err, HF_EINVAL, NULL, "no path given");
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);     /* a FIFO must not block */
    if (fd < 0)
        return sys_error(err, errno, path, "open");
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return sys_error(err, e, path, "stat");
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return hfi_ferr(err, HF_EIO, path, "not a regular file");
    }
    if (st.st_size == 0) {
        close(fd);
        return 0;
    }
    if ((uintmax_t)st.st_size > SIZE_MAX) {
        close(fd);
        return hfi_ferr(err, HF_EIO, path, "too large to map (%jd bytes)", (intmax_t)st.st_size);
    }
    p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
        int e = errno;
        close(fd);
        return sys_error(err, e, path, "map");
    }
    close(fd);
    m->data = p;
    m->size = (size_t)st.st_size;
    atomic_fetch_add_explicit(&live, 1, memory_order_relaxed);
    return 0;
}

void hfi_map_close(hfi_map_t *m)
{
    if (m->data) {
        munmap((void *)m->data, m->size);
        atomic_fetch_sub_explicit(&live, 1, memory_order_relaxed);
    }
    m->data = NULL;
    m->size = 0;
}

size_t hfi_map_live(void)
{
    return atomic_load_explicit(&live, memory_order_relaxed);
}

int hfi_source_open(const hfi_reader_t *rd, const char *path, const void *buf, size_t len,
                    const char *name, void **out, hf_error_t *err)
{
    hfi_source_t *src;
    int rc;

    if (!out || (!path && !buf))
        return hfi_ferr(err, HF_EINVAL, path ? path : name, "NULL argument");
    *out = NULL;
    if (path)
        name = hfi_basename(path);
    if (!(src = calloc(1, rd->size)))
        return hfi_ferr(err, HF_ENOMEM, name, "out of memory");
    src->name = hfi_arena_strndup(&src->arena, name ? name : "", name ? strlen(name) : 0);
    if (!src->name)
        rc = hfi_ferr(err, HF_ENOMEM, name, "out of memory");
    else if (path && (rc = hfi_map_open(path, &src->map, err)) < 0)
        ;
    else {
        src->base = path ? src->map.data : buf;
        src->size = path ? src->map.size : len;
        rc = rd->parse(src, err);
    }
    if (rc < 0) {
        rd->close(src);
        return rc;
    }
    *out = src;
    return 0;
}

void hfi_source_free(hfi_source_t *src)
{
    hfi_map_close(&src->map);
    hfi_arena_free(&src->arena);
}
