/*
 * relutil.c - see relutil.h. Test code: setup failures end the test through Check.
 *
 * Design notes
 *  - the auditor classifies every entry of the cache by where it sits (blobs/, snapshots/,
 *    refs/, .locks/, .no_exist/) and counts what the layout does not allow; blobs are
 *    re-hashed with the library's own hash code, partial files compared with the content
 *    the caller knows;
 *  - rel_spawn forks and execs at once (only async-signal-safe calls in between), so it is
 *    safe from a test process that has threads.
 */
#include "config.h"

#include "reliability/relutil.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hub/hash.h"

int rel_long(void)
{
    const char *v = getenv("HF_LONG");
    return v && *v && strcmp(v, "0") != 0;
}

unsigned rel_trials(unsigned reduced, unsigned full)
{
    return rel_long() ? full : reduced;
}

uint32_t rel_seed(const char *suite, uint32_t fixed)
{
    const char *v = getenv("HF_SEED");
    uint32_t s = v && *v ? (uint32_t)strtoul(v, NULL, 0) : fixed;
    if (!s)
        s = 1;
    printf("%s: seed %u (HF_SEED=%u to repeat), %s form\n", suite, s, s,
           rel_long() ? "full" : "reduced");
    fflush(stdout);
    return s;
}

uint32_t rel_rand(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

unsigned char *rel_pattern(size_t n, uint32_t seed)
{
    unsigned char *p = malloc(n ? n : 1);
    uint32_t x = seed * 2654435761u + 1;
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)rel_rand(&x);
    return p;
}

void rel_etag(const void *data, size_t n, int lfs, char out[65])
{
    hfi_hash_t h;
    /* any 64- or 40-hex string picks the algorithm */
    const char *kind = lfs ? "0000000000000000000000000000000000000000000000000000000000000000"
                           : "0000000000000000000000000000000000000000";
    ck_assert_int_eq(hfi_hash_init(&h, kind, n), 0);
    hfi_hash_update(&h, data, n);
    ck_assert_int_eq(hfi_hash_final(&h, out), 0);
}

char *rel_tmpdir(const char *tag)
{
    char *d = malloc(256);
    ck_assert_ptr_nonnull(d);
    snprintf(d, 256, "/tmp/hfasync-%s-XXXXXX", tag);
    ck_assert_ptr_nonnull(mkdtemp(d));
    return d;
}

void rel_rmtree(const char *dir)
{
    char cmd[600];
    /* folders made read-only by a test are made writable again first */
    snprintf(cmd, sizeof cmd, "chmod -R u+rwx '%s' 2>/dev/null; rm -rf '%s'", dir, dir);
    ck_assert_int_eq(system(cmd), 0);
}

void rel_write_file(const char *path, const void *data, size_t n)
{
    char dir[1024];
    FILE *f;
    snprintf(dir, sizeof dir, "%s", path);
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        ck_assert_msg(mkdir(dir, 0777) == 0 || errno == EEXIST, "mkdir %s", dir);
        *p = '/';
    }
    f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

long long rel_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* ---- the auditor ------------------------------------------------------------------------- */

static struct {
    rel_audit_t *out;
    rel_content_fn content;
    void *arg;
} audit;

static int is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return s[n] == '\0' || s[n] == '.';
}

static int etag_like(const char *name)
{
    size_t n = strcspn(name, ".");
    return (n == 64 || n == 40) && is_hex(name, n);
}

static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long len;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc(len > 0 ? (size_t)len : 1);
    *n = buf ? fread(buf, 1, (size_t)len, f) : 0;
    fclose(f);
    return buf;
}

static void check_blob(const char *path, const char *name, const struct stat *st)
{
    size_t n;
    unsigned char *data = read_all(path, &n);
    hfi_hash_t h;
    char hex[65] = "";

    audit.out->blobs++;
    if (data && (off_t)n == st->st_size && hfi_hash_init(&h, name, n) == 0) {
        hfi_hash_update(&h, data, n);
        hfi_hash_final(&h, hex);
    }
    if (strcmp(hex, name) != 0) {
        audit.out->corrupt++;
        fprintf(stderr, "audit: corrupt blob %s\n", path);
    }
    free(data);
}

/* The content of the blob a partial file `name` (<etag>.<suffix>) belongs to, when the
 * caller of rel_audit knows it; NULL otherwise. */
static const unsigned char *known_blob(const char *name, size_t *n)
{
    char etag[65];
    if (!audit.content)
        return NULL;
    snprintf(etag, sizeof etag, "%.*s", (int)strcspn(name, "."), name);
    return audit.content(etag, n, audit.arg);
}

static void check_partial(const char *path, const char *name)
{
    size_t want_n = 0, n = 0;
    const unsigned char *want;
    unsigned char *data;

    audit.out->partials++;
    if ((want = known_blob(name, &want_n)) == NULL)
        return;
    data = read_all(path, &n);
    if (!data || n > want_n || memcmp(data, want, n) != 0) {
        audit.out->bad_partials++;
        fprintf(stderr, "audit: partial file %s is not a prefix of its blob\n", path);
    }
    free(data);
}

/* A ranged partial file (<etag>.incomplete.ranged): its holes are not data, so only the
 * prefix its <...>.done file records (none: 0 bytes) must match the blob. */
static void check_ranged(const char *path, const char *name)
{
    char done[4096], buf[40] = "";
    unsigned long long rec = 0;
    size_t want_n = 0, n = 0;
    const unsigned char *want;
    unsigned char *data;
    FILE *f;

    audit.out->partials++;
    if ((want = known_blob(name, &want_n)) == NULL)
        return;
    snprintf(done, sizeof done, "%s.done", path);
    if ((f = fopen(done, "r")) != NULL) {
        if (fgets(buf, sizeof buf, f) == NULL || sscanf(buf, "%llu", &rec) != 1)
            rec = 0;
        fclose(f);
    }
    data = read_all(path, &n);
    if (!data || rec > n || rec > want_n || memcmp(data, want, (size_t)rec) != 0) {
        audit.out->bad_partials++;
        fprintf(stderr, "audit: ranged file %s does not hold the %llu bytes its .done says\n",
                path, rec);
    }
    free(data);
}

static void stray(const char *path, const char *why)
{
    audit.out->stray++;
    fprintf(stderr, "audit: %s: %s\n", why, path);
}

/* A .done file belongs to a ranged partial file; alone, it is a leftover. */
static void check_done(const char *path)
{
    char ranged[4096];
    size_t n = strlen(path) - strlen(".done");
    snprintf(ranged, sizeof ranged, "%.*s", (int)n, path);
    if (access(ranged, F_OK) != 0)
        stray(path, ".done file without its ranged partial file");
}

static void check_lock(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        audit.out->held_locks++;
        fprintf(stderr, "audit: lock %s still held\n", path);
    }
    close(fd);
}

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    const char *name = path + ftw->base;
    int in_blobs = strstr(path, "/blobs/") != NULL, in_snap = strstr(path, "/snapshots/") != NULL;
    int in_refs = strstr(path, "/refs/") != NULL, in_locks = strstr(path, "/.locks/") != NULL;

    if (type == FTW_D || type == FTW_DP)
        return 0;
    if (type == FTW_SL) {
        if (in_snap)
            audit.out->links++;
        else
            stray(path, "symlink outside snapshots/");
        return 0;
    }
    if (in_blobs) {
        if (etag_like(name) && strchr(name, '.') == NULL)
            check_blob(path, name, st);
        else if (etag_like(name) && strcmp(name + strcspn(name, "."), ".incomplete") == 0)
            check_partial(path, name);
        else if (etag_like(name) && strcmp(name + strcspn(name, "."), ".incomplete.ranged") == 0)
            check_ranged(path, name);
        else if (etag_like(name) && strcmp(name + strcspn(name, "."), ".incomplete.ranged.done") == 0)
            check_done(path);   /* read with its ranged file, which must be there */
        else
            stray(path, "unexpected file in blobs/");
    } else if (in_locks) {
        size_t n = strlen(name);
        if (n > 5 && strcmp(name + n - 5, ".lock") == 0)
            check_lock(path);
        else
            stray(path, "unexpected file in .locks/");
    } else if (in_snap) {
        stray(path, "regular file under snapshots/");
    } else if (in_refs) {
        if (st->st_size != 40)
            stray(path, "not a commit in refs/");
    } else if (strstr(path, "/.no_exist/") == NULL && strcmp(name, "CACHEDIR.TAG") != 0) {
        stray(path, "unexpected file");
    }
    return 0;
}

void rel_audit(const char *cache, rel_content_fn content, void *arg, rel_audit_t *out)
{
    memset(out, 0, sizeof *out);
    audit.out = out;
    audit.content = content;
    audit.arg = arg;
    ck_assert_int_eq(nftw(cache, visit, 16, FTW_PHYS), 0);
}

void rel_expect_clean(const char *cache, unsigned blobs, unsigned links)
{
    rel_audit_t a;
    rel_audit(cache, NULL, NULL, &a);
    ck_assert_uint_eq(a.corrupt, 0);
    ck_assert_uint_eq(a.partials, 0);
    ck_assert_uint_eq(a.stray, 0);
    ck_assert_uint_eq(a.held_locks, 0);
    ck_assert_uint_eq(a.blobs, blobs);
    ck_assert_uint_eq(a.links, links);
}

/* ---- dl_child ---------------------------------------------------------------------------- */

pid_t rel_spawn(const char **args, const char *out_path, int keep_fd)
{
    static char helper[512];
    const char *top = getenv("HF_TOP_BUILDDIR");
    int out;
    pid_t pid;

    snprintf(helper, sizeof helper, "%s/tests/reliability/dl_child", top ? top : ".");
    ck_assert_msg(access(helper, X_OK) == 0, "no helper at %s", helper);
    args[0] = helper;
    out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ck_assert_int_ge(out, 0);
    fflush(NULL);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (dup2(out, 1) < 0 || dup2(out, 2) < 0)
            _exit(126);
        if (keep_fd >= 0)
            fcntl(keep_fd, F_SETFD, 0);
        execv(helper, (char *const *)args);
        _exit(127);
    }
    close(out);
    return pid;
}

int rel_wait(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        ck_assert_int_eq(errno, EINTR);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

char *rel_slurp(const char *path)
{
    size_t n = 0;
    unsigned char *data = read_all(path, &n);
    char *s = malloc(n + 1);
    ck_assert_ptr_nonnull(s);
    if (data)
        memcpy(s, data, n);
    s[n] = '\0';
    free(data);
    return s;
}

long long rel_transcript_num(const char *text, const char *key)
{
    size_t k = strlen(key);
    for (const char *p = text; (p = strstr(p, key)) != NULL; p += k) {
        if ((p == text || p[-1] == ' ' || p[-1] == '\n') && p[k] == ' ')
            return strtoll(p + k + 1, NULL, 10);
    }
    return -1;
}
