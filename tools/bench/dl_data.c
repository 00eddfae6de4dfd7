/*
 * dl_data.c - the download suite's content, checks and folders (see dl.h).
 *
 * Content: byte k of the file with seed S is byte (k % 8) of the 64-bit word
 * mix(mix(S) ^ (k / 8)) (splitmix64's finaliser, native byte order), so any range of any
 * file can be regenerated to compare against, without keeping or reading the original.
 */
#define _XOPEN_SOURCE 700
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dl.h"

#define BLOCK (1u << 20)

static uint64_t mix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15u;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

void dl_fill(uint64_t seed, uint64_t off, unsigned char *buf, size_t n)
{
    uint64_t key = mix(seed);
    size_t i = 0;

    while (i < n) {
        uint64_t pos = off + i, w = mix(key ^ (pos / 8));
        size_t skip = (size_t)(pos % 8), take = 8 - skip;
        if (take > n - i)
            take = n - i;
        memcpy(buf + i, (unsigned char *)&w + skip, take);
        i += take;
    }
}

int dl_mkdirs(const char *dir)
{
    char buf[1024];
    size_t len = strlen(dir);

    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, dir, len + 1);
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0755) < 0 && errno != EEXIST) {
                fprintf(stderr, "hf-bench: mkdir %s: %s\n", buf, strerror(errno));
                return -1;
            }
            if (c == '\0')
                return 0;
            *p = c;
        }
    }
}

int dl_write_file(const char *path, uint64_t seed, uint64_t size)
{
    char dir[1024];
    const char *slash = strrchr(path, '/');
    unsigned char *buf;
    int fd, rc = 0;

    if (!slash || (size_t)(slash - path) >= sizeof dir)
        return -1;
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (dl_mkdirs(dir) < 0)
        return -1;
    if ((buf = malloc(BLOCK)) == NULL)
        return -1;
    if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
        fprintf(stderr, "hf-bench: cannot create %s: %s\n", path, strerror(errno));
        free(buf);
        return -1;
    }
    for (uint64_t off = 0; off < size && rc == 0;) {
        size_t n = size - off < BLOCK ? (size_t)(size - off) : BLOCK;
        dl_fill(seed, off, buf, n);
        for (size_t done = 0; done < n;) {
            ssize_t w = write(fd, buf + done, n - done);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                fprintf(stderr, "hf-bench: cannot write %s: %s\n", path, strerror(errno));
                rc = -1;
                break;
            }
            done += (size_t)w;
        }
        off += n;
    }
    if (close(fd) < 0)
        rc = -1;
    free(buf);
    return rc;
}

int dl_check_file(const char *path, uint64_t seed, uint64_t size, int prefix, char *why,
                  size_t whylen)
{
    unsigned char *got = malloc(BLOCK), *want = malloc(BLOCK);
    struct stat st;
    int fd = -1, rc = -1;

    if (!got || !want) {
        snprintf(why, whylen, "out of memory");
        goto out;
    }
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
        snprintf(why, whylen, "cannot open %s: %s", path, strerror(errno));
        goto out;
    }
    if (prefix ? (uint64_t)st.st_size < size : (uint64_t)st.st_size != size) {
        snprintf(why, whylen, "%s: %llu bytes, expected %s%llu", path,
                 (unsigned long long)st.st_size, prefix ? "at least " : "",
                 (unsigned long long)size);
        goto out;
    }
    for (uint64_t off = 0; off < size;) {
        size_t n = size - off < BLOCK ? (size_t)(size - off) : BLOCK, have = 0;
        while (have < n) {
            ssize_t r = pread(fd, got + have, n - have, (off_t)(off + have));
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                snprintf(why, whylen, "cannot read %s at %llu", path,
                         (unsigned long long)(off + have));
                goto out;
            }
            have += (size_t)r;
        }
        dl_fill(seed, off, want, n);
        if (memcmp(got, want, n) != 0) {
            size_t k = 0;
            while (got[k] == want[k])
                k++;
            snprintf(why, whylen, "%s: wrong byte at offset %llu", path,
                     (unsigned long long)(off + k));
            goto out;
        }
        off += n;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    free(got);
    free(want);
    return rc;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

int dl_rmtree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -1;
    return nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

void dl_proc_status(long *threads, long *rss_kib, long *hwm_kib)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];

    *threads = *rss_kib = *hwm_kib = -1;
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "Threads:", 8) == 0)
            *threads = strtol(line + 8, NULL, 10);
        else if (strncmp(line, "VmRSS:", 6) == 0)
            *rss_kib = strtol(line + 6, NULL, 10);
        else if (strncmp(line, "VmHWM:", 6) == 0)
            *hwm_kib = strtol(line + 6, NULL, 10);
    }
    fclose(f);
}

int dl_reset_peak_rss(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    int rc;

    if (fd < 0)
        return -1;
    rc = write(fd, "5", 1) == 1 ? 0 : -1;
    close(fd);
    return rc;
}
