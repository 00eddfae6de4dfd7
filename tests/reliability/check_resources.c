/*
 * check_resources.c - resources that LeakSanitizer does not see: every public operation,
 * repeated many times, must leave the process's descriptors, file mappings and threads, and
 * the cache folder's entries, as they were after its first rounds.
 *
 * Design notes
 *  - a resource set is: the open descriptors (/proc/self/fd; else fcntl(F_GETFD) over
 *    0..getdtablesize()), sockets among them, and those open on a file in the cache or the
 *    readers' folder; the file-backed mappings (/proc/self/maps lines with a path:
 *    anonymous ones come and go with the allocator, a sanitizer's above all; where there is
 *    no /proc/self/maps the test says so and checks the rest), and those of our files; the
 *    readers' mappings and the armed timers as the library counts them (hfi_map_live,
 *    hfi_timer_pending: every platform); the threads (/proc/self/task; else the runtime's
 *    pools as hf_runtime_stats counts them, which the test says); and the sorted listing
 *    of the cache folder;
 *  - each operation runs in three stages: one whole cycle (runtime, hub, a few rounds,
 *    hub and runtime freed) so that what is made once per process is made; the outer
 *    baseline; a runtime and hub, a few warm-up rounds (connections, engine loops, I/O
 *    threads are made lazily, once), the inner baseline, then the measured rounds: after
 *    them the set must be back to the inner baseline, and after the hub and runtime are
 *    freed back to the outer one;
 *  - "back" means no more descriptors, mappings, timers or threads than the baseline
 *    (fewer is fine: an idle I/O thread may exit, and the runtimes here let one go after
 *    100 ms), no descriptor or mapping of our files at all, the same cache entries, and
 *    sockets at most SOCKET_SLACK over (idle connections kept for reuse; none once the hub
 *    is freed); what a finished call hands to another thread may be let go a moment
 *    after its future settles, so the comparison is retried until it holds or the
 *    deadline passes: nothing asserts on time;
 *  - no partial file (.incomplete) may be in the cache once every call has settled, and
 *    .locks/ holds only <etag>.lock files (one per blob, as huggingface_hub keeps them:
 *    their number cannot grow, since the listing is compared);
 *  - the timer thread is made lazily but must also go once no timer is armed: the timers
 *    test waits for that before each baseline.
 */
#include "common/testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/mockhub.h"
#include "core/timer.h"
#include "formats/mapfile.h"
#include "reliability/relutil.h"

#define REPO "org/res"
#define TOKEN "hf_fixture_token"
#define BIG (4u << 20)
#define LISTING_MAX (256u << 10)

static tu_mock_t mock;
static char *cache;
static char *scratch;           /* files for the format readers */
static hf_runtime_t *rt;
static hf_hub_t *hub;

/* ---- the resource set ----------------------------------------------------------------- */

typedef struct res {
    long fds, sockets, maps, threads;    /* maps, threads: -1 where nothing can count them */
    long held_fds, held_maps;   /* descriptors and mappings of files in the cache or the
                                   format readers' folder (0 where /proc cannot tell) */
    long timers, live_maps;     /* armed timers, and the readers' mappings, as the library
                                   counts them (on every platform) */
    char *listing;              /* the cache folder, sorted, one entry a line */
} res_t;

static int fd_fallback_used, maps_absent, threads_absent;

static long count_fds_fcntl(void)
{
    long n = 0, max = getdtablesize();
    for (long fd = 0; fd < max; fd++)
        if (fcntl((int)fd, F_GETFD) != -1)
            n++;
    return n;
}

static char real_cache[1024], real_scratch[1024];

/* A path in the cache or the format readers' folder. */
static int ours(const char *path)
{
    return (real_cache[0] && !strncmp(path, real_cache, strlen(real_cache))) ||
           (real_scratch[0] && !strncmp(path, real_scratch, strlen(real_scratch)));
}

/* The open descriptors; *sockets of them sockets, *held (may be NULL) of them our files. */
static long count_fds(long *sockets, long *held)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    long n = 0, ns = 0;
    if (!d) {
        long max = getdtablesize();
        struct stat sb;
        if (!fd_fallback_used++)
            printf("check_resources: no /proc/self/fd, descriptors counted with fcntl\n");
        for (long fd = 0; fd < max; fd++)
            if (fstat((int)fd, &sb) == 0 && S_ISSOCK(sb.st_mode))
                ns++;
        if (sockets)
            *sockets = ns;
        return count_fds_fcntl();
    }
    while ((e = readdir(d))) {
        char path[300], target[1024];
        ssize_t k;
        if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
            continue;
        n++;
        /* the link's text, not fstat on the descriptor, which other threads may be
         * opening or closing meanwhile (ThreadSanitizer calls that a race) */
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        k = readlink(path, target, sizeof target - 1);
        target[k < 0 ? 0 : k] = 0;
        if (!strncmp(target, "socket:", 7))
            ns++;
        if (held && ours(target))
            (*held)++;
    }
    closedir(d);
    if (sockets)
        *sockets = ns;
    return n;
}

/* What the open descriptors are, for a failure's message. */
static void describe_fds(char *out, size_t size)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    size_t len = 0;
    out[0] = 0;
    if (!d)
        return;
    while ((e = readdir(d)) && len + 1 < size) {
        char path[300], target[512];
        ssize_t k;
        if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
            continue;
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        k = readlink(path, target, sizeof target - 1);
        target[k < 0 ? 0 : k] = 0;
        len += (size_t)snprintf(out + len, size - len, " %s=%s", e->d_name, target);
    }
    closedir(d);
}

/* The threads' names, for a failure's message. */
static void describe_threads(char *out, size_t size)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    size_t len = 0;
    out[0] = 0;
    if (!d)
        return;
    while ((e = readdir(d)) && len + 1 < size) {
        char path[300], name[64] = "";
        FILE *f;
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        if ((f = fopen(path, "r"))) {
            if (fgets(name, sizeof name, f))
                name[strcspn(name, "\n")] = 0;
            fclose(f);
        }
        len += (size_t)snprintf(out + len, size - len, " %s", name);
    }
    closedir(d);
}

static long count_maps(long *held)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[2048];
    long n = 0;
    if (!f) {
        if (!maps_absent++)
            printf("check_resources: no /proc/self/maps: mappings NOT checked\n");
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        char *path = strchr(line, '/');
        if (!path)
            continue;                       /* anonymous */
        n++;
        path[strcspn(path, "\n")] = 0;
        if (ours(path))
            (*held)++;
    }
    fclose(f);
    return n;
}

static long count_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    long n = 0;
    if (!d) {
        hf_runtime_stats_t st;
        if (!threads_absent++)
            printf("check_resources: no /proc/self/task: threads counted as the runtime's "
                   "pools only\n");
        if (!rt || hf_runtime_stats(rt, &st) < 0)
            return -1;
        return (long)st.compute_threads + (long)st.io_threads;
    }
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Append every entry under `dir` (relative to the cache) to `names`. */
static void walk(const char *root, const char *rel, char ***names, size_t *n, size_t *cap)
{
    char path[2048];
    DIR *d;
    struct dirent *e;
    snprintf(path, sizeof path, "%s%s%s", root, *rel ? "/" : "", rel);
    if (!(d = opendir(path)))
        return;
    while ((e = readdir(d))) {
        char sub[1024];
        struct stat sb;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        snprintf(path, sizeof path, "%s/%s", root, sub);
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 64;
            *names = realloc(*names, *cap * sizeof **names);
            ck_assert_ptr_nonnull(*names);
        }
        (*names)[(*n)++] = strdup(sub);
        if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
            walk(root, sub, names, n, cap);
    }
    closedir(d);
}

/* Leave .locks/ out of the listing: for an operation whose lock files depend on how far
 * a cancelled transfer got (lock files stay, one per blob, as huggingface_hub's do). */
static int skip_locks;

static char *list_cache(void)
{
    char **names = NULL, *out;
    size_t n = 0, cap = 0, len = 0;
    walk(cache, "", &names, &n, &cap);
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    out = malloc(LISTING_MAX);
    ck_assert_ptr_nonnull(out);
    out[0] = 0;
    for (size_t i = 0; i < n; i++) {
        if (skip_locks && !strncmp(names[i], ".locks", 6))
            ;
        else if (len + strlen(names[i]) + 2 < LISTING_MAX)
            len += (size_t)snprintf(out + len, LISTING_MAX - len, "%s\n", names[i]);
        free(names[i]);
    }
    free(names);
    return out;
}

static void take(res_t *r)
{
    r->held_fds = r->held_maps = 0;
    r->fds = count_fds(&r->sockets, &r->held_fds);
    r->maps = count_maps(&r->held_maps);
    r->threads = count_threads();
    r->timers = (long)hfi_timer_pending();
    r->live_maps = (long)hfi_map_live();
    r->listing = list_cache();
}

static void drop(res_t *r)
{
    free(r->listing);
    r->listing = NULL;
}

/* Idle connections a hub keeps for reuse: their number may differ by the parallelism of a
 * call from one round to the next, but not grow with the rounds; a freed hub closes all. */
#define SOCKET_SLACK 8

static long socket_slack;

static int within(const res_t *now, const res_t *base)
{
    return !now->held_fds && !now->held_maps && now->timers <= base->timers &&
           now->live_maps <= base->live_maps && now->fds - now->sockets <= base->fds - base->sockets &&
           now->sockets <= base->sockets + socket_slack && now->maps <= base->maps &&
           (base->threads < 0 || now->threads <= base->threads) &&
           strcmp(now->listing, base->listing) == 0;
}

/* No partial or temporary file, and nothing in .locks/ but <etag>.lock files, no more of
 * them per repo than blobs it has held. */
static void assert_cache_tidy(const char *what, const char *listing)
{
    const char *p = listing;
    while (*p) {
        const char *nl = strchr(p, '\n');
        char name[1024];
        size_t k = (size_t)(nl - p);
        snprintf(name, sizeof name, "%.*s", (int)k, p);
        ck_assert_msg(!strstr(name, ".incomplete") && !strstr(name, ".tmp"),
                      "%s: %s left in the cache", what, name);
        if (!strncmp(name, ".locks/", 7) && strchr(name + 7, '/')) {
            const char *base = strrchr(name, '/') + 1;
            size_t bl = strlen(base);
            ck_assert_msg(bl == 45 || bl == 69, "%s: stray lock file %s", what, name);
            ck_assert_msg(!strcmp(base + bl - 5, ".lock"), "%s: stray file %s", what, name);
        }
        p = nl + 1;
    }
}

/* Wait until `base` holds again (see the design notes); fail naming what did not. */
static void expect_back(const char *what, const res_t *base)
{
    uint64_t end = tu_now_ms() + 20000;
    res_t now;
    for (;;) {
        take(&now);
        if (within(&now, base) || tu_now_ms() > end)
            break;
        drop(&now);
        tu_sleep_ms(20);
    }
    ck_assert_msg(now.timers <= base->timers, "%s: %ld timers armed, %ld at the baseline",
                  what, now.timers, base->timers);
    ck_assert_msg(!now.held_maps, "%s: %ld mappings of cached files still there", what,
                  now.held_maps);
    ck_assert_msg(now.live_maps <= base->live_maps, "%s: %ld file mappings made by the "
                  "readers, %ld at the baseline", what, now.live_maps, base->live_maps);

    if (now.held_fds || now.fds - now.sockets > base->fds - base->sockets ||
        now.sockets > base->sockets + socket_slack) {
        char fds[4096];
        describe_fds(fds, sizeof fds);
        ck_abort_msg("%s: %ld descriptors open (%ld sockets, %ld of cached files), %ld at "
                     "the baseline (%ld):%s", what, now.fds, now.sockets, now.held_fds,
                     base->fds, base->sockets, fds);
    }
    ck_assert_msg(now.maps <= base->maps, "%s: %ld file mappings, %ld at the baseline", what,
                  now.maps, base->maps);
    if (base->threads >= 0 && now.threads > base->threads) {
        char names[2048];
        describe_threads(names, sizeof names);
        ck_abort_msg("%s: %ld threads, %ld at the baseline:%s", what, now.threads,
                     base->threads, names);
    }
    ck_assert_msg(strcmp(now.listing, base->listing) == 0,
                  "%s: the cache changed\n--- baseline:\n%.3000s--- now:\n%.3000s", what,
                  base->listing, now.listing);
    assert_cache_tidy(what, now.listing);
    drop(&now);
}

/* A baseline: once no file of ours is open or mapped (what a settled call handed to another
 * thread may be let go a moment later). */
static void take_baseline(const char *what, res_t *r)
{
    uint64_t end = tu_now_ms() + 20000;
    for (;;) {
        take(r);
        if ((!r->held_fds && !r->held_maps) || tu_now_ms() > end)
            break;
        drop(r);
        tu_sleep_ms(20);
    }
    ck_assert_msg(!r->held_fds && !r->held_maps, "%s: %ld descriptors and %ld mappings of "
                  "cached files still there", what, r->held_fds, r->held_maps);
    assert_cache_tidy(what, r->listing);
}

/* ---- the driver ----------------------------------------------------------------------- */

typedef void (*op_fn)(unsigned round);

static const hf_hub_config_t *hub_cfg;

/* A runtime whose idle I/O threads exit after 100 ms (instead of 10 s): an extra one that
 * a round needed is gone soon after, while a leaked one never goes. */
static hf_runtime_t *new_runtime(void)
{
    hf_runtime_config_t cfg;
    hf_runtime_t *r;
    memset(&cfg, 0, sizeof cfg);
    cfg.compute_threads = 2;
    cfg.io_idle_ms = 100;
    r = hf_runtime_new(&cfg);
    ck_assert_ptr_nonnull(r);
    return r;
}

static void open_hub(void)
{
    rt = new_runtime();
    hub = tu_hub_at(rt, mock.hub, cache, TOKEN, hub_cfg);
}

static void close_hub(void)
{
    hf_hub_free(hub);
    hf_runtime_free(rt);
    hub = NULL;
    rt = NULL;
}

/* Set by a test whose rounds arm timers: the timer thread, made lazily, must also go once
 * idle (LINGER_MS after its last timer is gone, however far that timer's deadline was). */
static int timer_thread_goes;

static void wait_timer_thread_gone(void)
{
    uint64_t end = tu_now_ms() + 20000;
    if (!timer_thread_goes)
        return;
    while (hfi_timer_threads() != 0 && tu_now_ms() < end)
        tu_sleep_ms(20);
    ck_assert_msg(hfi_timer_threads() == 0, "the timer thread stays with no timer armed "
                  "(%zu pending)", hfi_timer_pending());
}

/* Run `op` as the design notes say: `warm` rounds per warm-up, then `rounds` measured. */
static void repeat(const char *what, op_fn op, unsigned warm, unsigned rounds)
{
    res_t outer, inner;
    char label[160];
    unsigned i;
    uint64_t t0 = tu_now_ms();

    open_hub();
    for (i = 0; i < warm; i++)
        op(i);
    close_hub();
    snprintf(label, sizeof label, "%s, first cycle", what);
    wait_timer_thread_gone();
    take_baseline(label, &outer);

    open_hub();
    for (i = 0; i < warm; i++)
        op(i);
    snprintf(label, sizeof label, "%s, warm-up", what);
    wait_timer_thread_gone();
    take_baseline(label, &inner);
    for (i = 0; i < rounds; i++)
        op(warm + i);
    snprintf(label, sizeof label, "%s, after %u rounds", what, rounds);
    socket_slack = SOCKET_SLACK;
    expect_back(label, &inner);
    socket_slack = 0;
    close_hub();
    snprintf(label, sizeof label, "%s, once the hub and runtime are freed", what);
    expect_back(label, &outer);
    printf("check_resources: %s: %u rounds in %llu ms; outer %ld descriptors, %ld file "
           "mappings, %ld threads; inner %ld (%ld sockets), %ld, %ld\n", what, rounds,
           (unsigned long long)(tu_now_ms() - t0), outer.fds, outer.maps, outer.threads,
           inner.fds, inner.sockets, inner.maps, inner.threads);
    drop(&outer);
    drop(&inner);
}

/* ---- fixtures --------------------------------------------------------------------------- */

static unsigned char *big_data;

/* Copy the fixture repo `from` (under the mock's root) to `to`, each file through `edit`
 * (may be NULL), which may change its bytes and length. */
static void copy_repo(const char *from, const char *to, const char *rel,
                      void (*edit)(const char *rel, char *data, size_t *n))
{
    char src[1024], dst[1024];
    DIR *d;
    struct dirent *e;
    snprintf(src, sizeof src, "%s/models/%s%s%s", mock.root, from, *rel ? "/" : "", rel);
    d = opendir(src);
    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d))) {
        char sub[512], path[1300];
        struct stat sb;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        snprintf(path, sizeof path, "%s/%s", src, e->d_name);
        ck_assert_int_eq(lstat(path, &sb), 0);
        if (S_ISDIR(sb.st_mode)) {
            copy_repo(from, to, sub, edit);
        } else {
            char *data = rel_slurp(path);
            size_t n = (size_t)sb.st_size;
            if (edit)
                edit(sub, data, &n);
            snprintf(dst, sizeof dst, "%s/models/%s/%s", mock.root, to, sub);
            rel_write_file(dst, data, n);
            free(data);
        }
    }
    closedir(d);
}

static char *kimi_part1;
static size_t kimi_part1_size;

/* Kimi whose third part is cut short: parts one and two are open when it fails. */
static void third_part_cut(const char *rel, char *data, size_t *n)
{
    (void)data;
    if (strstr(rel, "TQ1_0-00003-of-00005.gguf") && *n > 200)
        *n = 200;
    if (strstr(rel, "TQ1_0-00001-of-00005.gguf") && !kimi_part1) {
        kimi_part1 = malloc(*n);
        ck_assert_ptr_nonnull(kimi_part1);
        memcpy(kimi_part1, data, *n);
        kimi_part1_size = *n;
    }
}

static pid_t mock_owner;       /* the process that started the mock (Check forks tests) */

/* tu_mock_stop's work without its assertions, which Check refuses outside a test. */
static void stop_mock(void)
{
    char cmd[400];
    if (getpid() != mock_owner)
        return;
    if (mock.pid > 0) {
        kill(mock.pid, SIGTERM);
        waitpid(mock.pid, NULL, 0);
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", mock.root);
    if (mock.root[0] && system(cmd) != 0)
        fprintf(stderr, "check_resources: could not remove %s\n", mock.root);
    free(big_data);
}

/* Once for all the cases (each has its own, so that CK_RUN_CASE picks one); the mock
 * stops when the process that started it exits. */
static void suite_setup(void)
{
    static int ready;
    if (mock_owner) {
        ck_assert_msg(ready, "the mock Hub could not be set up (see the first failure)");
        return;
    }
    mock_owner = getpid();
    atexit(stop_mock);
    tu_mock_root(&mock);
    tu_mock_fixtures(&mock, 0);
    copy_repo("Alibaba-NLP/gte-Qwen2-1.5B-instruct", "org/gte-bad", "", NULL);
    copy_repo("unsloth/Kimi-K2-Instruct-GGUF", "org/kimi-bad", "", third_part_cut);
    copy_repo("unsloth/Phi-4-reasoning-GGUF", "org/phi4-bad", "", NULL);
    {
        /* Phi-4 whose GGUF is of another architecture (Kimi's deepseek2) */
        char path[1024], from[1024], *first;
        snprintf(path, sizeof path, "%s/models/org/phi4-bad/Phi-4-reasoning-Q4_K_M.gguf",
                 mock.root);
        rel_write_file(path, kimi_part1, kimi_part1_size);
        free(kimi_part1);
        kimi_part1 = NULL;
        /* gte-qwen whose second shard is a copy of the first: its tensors are not where
         * the index says, found once both shards are open and mapped */
        snprintf(from, sizeof from, "%s/models/org/gte-bad/model-00001-of-00002.safetensors",
                 mock.root);
        snprintf(path, sizeof path, "%s/models/org/gte-bad/model-00002-of-00002.safetensors",
                 mock.root);
        first = rel_slurp(from);
        rel_write_file(path, first, (size_t)rel_file_size(from));
        free(first);
    }
    big_data = tu_pattern(BIG, 7);
    tu_mock_file(&mock, "model", REPO, "config.json", "{\"a\": 1}\n", 9);
    tu_mock_file(&mock, "model", REPO, "weights.lfs", big_data, 96u << 10);
    tu_mock_file(&mock, "model", REPO, "big.lfs", big_data, BIG);
    tu_mock_file(&mock, "model", REPO, "sub/a.txt", "a\n", 2);
    tu_mock_file(&mock, "model", REPO, "sub/b.txt", "b\n", 2);
    tu_mock_file(&mock, "model", REPO, "broken.bin", "x\n", 2);
    tu_mock_settings(&mock, "model", REPO, "{\"lfs\": [\"*.lfs\"]}");
    tu_mock_start(&mock, NULL);
    ready = 1;
}

static void setup(void)
{
    cache = rel_tmpdir("res-cache");
    scratch = rel_tmpdir("res-files");
    ck_assert_ptr_nonnull(realpath(cache, real_cache));
    ck_assert_ptr_nonnull(realpath(scratch, real_scratch));
    hub_cfg = NULL;
    skip_locks = 0;
    timer_thread_goes = 0;
}

static void teardown(void)
{
    tu_mock_reset(&mock);
    rel_rmtree(cache);
    rel_rmtree(scratch);
    free(cache);
    free(scratch);
}

/* ---- operations --------------------------------------------------------------------------- */

static hf_future_state_t settle_release(hf_future_t *f, int *code)
{
    hf_future_state_t st;
    ck_assert_ptr_nonnull(f);
    st = tu_settle(f);
    if (code)
        *code = st == HF_FUTURE_REJECTED ? hf_future_error(f)->code : 0;
    hf_future_release(f);
    return st;
}

static void download_ok(const char *path, int force)
{
    hf_file_ref_t ref = { REPO, HF_REPO_MODEL, NULL, path };
    hf_download_opts_t o = { NULL, NULL, force };
    hf_future_t *f = hf_hub_download(hub, &ref, &o);
    ck_assert_ptr_nonnull(f);
    ck_assert_msg(tu_settle(f) == HF_FUTURE_FULFILLED, "download %s: %s", path,
                  hf_future_state(f) == HF_FUTURE_REJECTED ? hf_future_error(f)->message
                                                           : "cancelled");
    hf_future_release(f);
}

static void op_download_cached(unsigned round)
{
    (void)round;
    download_ok("config.json", 0);
    download_ok("weights.lfs", 0);
}

static void op_download_forced(unsigned round)
{
    download_ok(round & 1 ? "config.json" : "weights.lfs", 1);
}

static void op_download_fresh(unsigned round)
{
    hf_error_t e;
    if (round)
        ck_assert_int_ge(hf_cache_remove(cache, HF_REPO_MODEL, REPO, NULL, &e), 0);
    download_ok("config.json", 0);
    download_ok("weights.lfs", 0);
}

static void op_api(unsigned round)
{
    hf_file_ref_t ref = { REPO, HF_REPO_MODEL, NULL, "weights.lfs" };
    hf_file_ref_t dir = { REPO, HF_REPO_MODEL, NULL, round & 1 ? "sub" : NULL };
    ck_assert_int_eq(settle_release(hf_hub_file_metadata(hub, &ref), NULL), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(settle_release(hf_hub_repo_info(hub, &ref), NULL), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(settle_release(hf_hub_list_files(hub, &dir), NULL), HF_FUTURE_FULFILLED);
}

static void op_snapshot(unsigned round)
{
    static const char *const exclude[] = { "big.lfs", "broken.bin" };
    hf_file_ref_t ref = { REPO, HF_REPO_MODEL, NULL, NULL };
    hf_snapshot_opts_t o;
    hf_error_t e;
    memset(&o, 0, sizeof o);
    o.exclude = exclude;
    o.nexclude = 2;
    if (round & 1)          /* every other round from nothing */
        ck_assert_int_ge(hf_cache_remove(cache, HF_REPO_MODEL, REPO, NULL, &e), 0);
    ck_assert_int_eq(settle_release(hf_hub_snapshot(hub, &ref, &o), NULL), HF_FUTURE_FULFILLED);
}

static atomic_ullong seen_bytes;

static void note_progress(const hf_progress_t *p, void *arg)
{
    (void)arg;
    atomic_store(&seen_bytes, p->file_done);
}

static void op_cancel(unsigned round)
{
    hf_file_ref_t ref = { REPO, HF_REPO_MODEL, NULL, "big.lfs" };
    hf_download_opts_t o = { note_progress, NULL, 0 };
    hf_future_t *f;
    (void)round;
    tu_mock_fault(&mock, "{\"path\": \"*/big.lfs\", \"port\": \"cdn\", \"method\": \"GET\", "
                         "\"count\": 1, \"throttle_bps\": 400000}");
    atomic_store(&seen_bytes, 0);
    f = hf_hub_download(hub, &ref, &o);
    ck_assert_ptr_nonnull(f);
    TU_EVENTUALLY(atomic_load(&seen_bytes) > 0);
    ck_assert_int_eq(hf_future_cancel(f), 0);
    ck_assert_int_eq(hf_future_state(f), HF_FUTURE_CANCELLED);
    hf_future_release(f);
    TU_EVENTUALLY(tu_count_files_named(cache, ".incomplete") == 0);
    tu_mock_reset(&mock);
}

static void op_fail(unsigned round)
{
    hf_file_ref_t missing = { REPO, HF_REPO_MODEL, NULL, "missing.bin" };
    hf_file_ref_t broken = { REPO, HF_REPO_MODEL, NULL, "broken.bin" };
    hf_file_ref_t norepo = { "org/none", HF_REPO_MODEL, NULL, "x.bin" };
    hf_download_opts_t force = { NULL, NULL, 1 };
    int code;
    (void)round;
    ck_assert_int_eq(settle_release(hf_hub_download(hub, &missing, NULL), &code),
                     HF_FUTURE_REJECTED);
    ck_assert_int_eq(code, HF_EENTRY_NOT_FOUND);
    ck_assert_int_eq(settle_release(hf_hub_download(hub, &norepo, NULL), &code),
                     HF_FUTURE_REJECTED);
    ck_assert_int_eq(code, HF_EREPO_NOT_FOUND);
    /* a 500 on the metadata request, then one on the body */
    ck_assert_int_eq(settle_release(hf_hub_download(hub, &broken, &force), &code),
                     HF_FUTURE_REJECTED);
    ck_assert_int_ne(code, 0);
    tu_mock_fault(&mock, "{\"path\": \"*/broken.bin\", \"method\": \"GET\", \"status\": 500}");
    ck_assert_int_eq(settle_release(hf_hub_download(hub, &broken, &force), &code),
                     HF_FUTURE_REJECTED);
    ck_assert_int_ne(code, 0);
    tu_mock_reset(&mock);
    tu_mock_fault(&mock, "{\"path\": \"*/broken.bin\", \"method\": \"HEAD\", \"status\": 500}");
}

static void op_hub_cycle(unsigned round)
{
    hf_hub_t *keep = hub;
    (void)round;
    hub = tu_hub_at(rt, mock.hub, cache, TOKEN, NULL);
    download_ok(round & 1 ? "config.json" : "weights.lfs", round % 3 == 0);
    hf_hub_free(hub);
    hub = tu_hub_at(rt, mock.hub, cache, TOKEN, NULL);      /* and one that did nothing */
    hf_hub_free(hub);
    hub = keep;
}

static void *answer(void *arg, hf_error_t *err)
{
    (void)err;
    return arg;
}

static void op_runtime_cycle(unsigned round)
{
    hf_runtime_t *r = new_runtime();
    hf_future_t *a, *b;
    a = hf_async(hf_runtime_compute(r), answer, r);
    b = hf_spawn_blocking(r, answer, r);
    ck_assert_int_eq(settle_release(a, NULL), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(settle_release(b, NULL), HF_FUTURE_FULFILLED);
    if (round & 1) {        /* and one with a hub on it */
        hf_hub_t *h = tu_hub_at(r, mock.hub, cache, TOKEN, NULL), *keep = hub;
        hub = h;
        download_ok("config.json", round % 4 == 1);
        hub = keep;
        hf_hub_free(h);
    }
    hf_runtime_free(r);
}

static const char *model_name;

static void op_model(unsigned round)
{
    hf_future_t *f = hf_model_load(rt, hub, model_name, NULL), *g;
    hf_model_t *m;
    (void)round;
    ck_assert_ptr_nonnull(f);
    ck_assert_msg(tu_settle(f) == HF_FUTURE_FULFILLED, "%s: %s", model_name,
                  hf_future_state(f) == HF_FUTURE_REJECTED ? hf_future_error(f)->message
                                                           : "cancelled");
    m = hf_model_retain(hf_future_value(f));
    hf_future_release(f);
    g = hf_model_load(rt, hub, model_name, NULL);      /* memoised: the same model */
    ck_assert_int_eq(tu_settle(g), HF_FUTURE_FULFILLED);
    ck_assert_ptr_eq(hf_future_value(g), m);
    hf_future_release(g);
    hf_model_release(m);
}

static void load_fails(const char *name, const char *repo)
{
    hf_model_opts_t o;
    int code;
    memset(&o, 0, sizeof o);
    o.repo = repo;
    ck_assert_int_eq(settle_release(hf_model_load(rt, hub, name, &o), &code),
                     HF_FUTURE_REJECTED);
    ck_assert_msg(code == HF_EFORMAT || code == HF_EUNSUPPORTED, "%s from %s: %d", name,
                  repo, code);
}

static void op_model_fail(unsigned round)
{
    (void)round;
    load_fails("gte-qwen", "org/gte-bad");
    load_fails("kimi-k2", "org/kimi-bad");
    load_fails("phi4-reasoning", "org/phi4-bad");
}

/* A load cancelled while its files download (throttled): from nothing each round. */
static void op_model_cancel(unsigned round)
{
    hf_error_t e;
    hf_future_t *f;
    hf_hub_stats_t st;
    uint64_t before;
    (void)round;
    hf_cache_remove(cache, HF_REPO_MODEL, "unsloth/Kimi-K2-Instruct-GGUF", NULL, &e);
    tu_mock_fault(&mock, "{\"path\": \"*TQ1_0-0000[2-5]-of-00005.gguf\", \"method\": \"GET\", "
                         "\"throttle_bps\": 100000}");
    hf_hub_stats(hub, &st);
    before = st.bytes_received;
    f = hf_model_load(rt, hub, "kimi-k2", NULL);
    ck_assert_ptr_nonnull(f);
    TU_EVENTUALLY(hf_hub_stats(hub, &st) == 0 && st.bytes_received > before + 1000);
    hf_future_cancel(f);
    ck_assert_int_ne(tu_settle(f), HF_FUTURE_PENDING);
    hf_future_release(f);
    TU_EVENTUALLY(hf_hub_stats(hub, &st) == 0 && st.transfers_active == 0);
    TU_EVENTUALLY(tu_count_files_named(cache, ".incomplete") == 0);
    tu_mock_reset(&mock);
    /* how far it got (refs, blobs) depends on when the cancel came: start each round bare */
    hf_cache_remove(cache, HF_REPO_MODEL, "unsloth/Kimi-K2-Instruct-GGUF", NULL, &e);
}

/* A snapshot cancelled mid-transfer, and a download cancelled while its metadata request
 * is stalled at the server. */
static void op_cancel_other(unsigned round)
{
    static const char *const include[] = { "*.lfs", "sub/*" };
    hf_file_ref_t ref = { REPO, HF_REPO_MODEL, NULL, NULL };
    hf_file_ref_t cfg = { REPO, HF_REPO_MODEL, NULL, "config.json" };
    hf_download_opts_t force = { NULL, NULL, 1 };
    hf_snapshot_opts_t o;
    hf_hub_stats_t st;
    hf_future_t *f;
    (void)round;
    memset(&o, 0, sizeof o);
    o.include = include;
    o.ninclude = 2;
    o.progress = note_progress;
    /* the small files are there before: whether the snapshot got to them before the
     * cancel changes nothing in the cache */
    download_ok("weights.lfs", 0);
    download_ok("sub/a.txt", 0);
    download_ok("sub/b.txt", 0);
    tu_mock_fault(&mock, "{\"path\": \"*/big.lfs\", \"port\": \"cdn\", \"method\": \"GET\", "
                         "\"count\": 1, \"throttle_bps\": 400000}");
    atomic_store(&seen_bytes, 0);
    f = hf_hub_snapshot(hub, &ref, &o);
    ck_assert_ptr_nonnull(f);
    TU_EVENTUALLY(atomic_load(&seen_bytes) > 0);
    ck_assert_int_eq(hf_future_cancel(f), 0);
    hf_future_release(f);
    tu_mock_reset(&mock);

    tu_mock_fault(&mock, "{\"path\": \"*/config.json\", \"method\": \"HEAD\", \"count\": 1, "
                         "\"stall_ms\": 400}");
    f = hf_hub_download(hub, &cfg, &force);
    ck_assert_ptr_nonnull(f);
    TU_EVENTUALLY(tu_mock_count(&mock, "HEAD", "/config.json") > 0);
    ck_assert_int_eq(hf_future_cancel(f), 0);
    hf_future_release(f);
    TU_EVENTUALLY(hf_hub_stats(hub, &st) == 0 && st.transfers_active == 0);
    TU_EVENTUALLY(tu_count_files_named(cache, ".incomplete") == 0);
    tu_mock_reset(&mock);
}

/* The blocking form, the cache lookup, and bodies that arrive corrupt or cut. */
static void op_blocking_and_bad_bodies(unsigned round)
{
    hf_file_ref_t ref = { REPO, HF_REPO_MODEL, NULL, "weights.lfs" };
    hf_file_ref_t missing = { REPO, HF_REPO_MODEL, NULL, "nothing.bin" };
    hf_download_opts_t force = { NULL, NULL, 1 };
    hf_error_t e;
    char *path = NULL;
    int code;
    (void)round;
    ck_assert_int_eq(hf_hub_download_blocking(hub, &ref, NULL, &path, &e), 0);
    free(path);
    ck_assert_int_eq(hf_hub_try_cache(hub, &ref, &path), 0);
    free(path);
    ck_assert_int_eq(hf_hub_try_cache(hub, &missing, &path), HF_ENOENT);
    tu_mock_fault(&mock, "{\"path\": \"*/weights.lfs\", \"method\": \"GET\", "
                         "\"flip_offset\": 5000}");
    ck_assert_int_eq(settle_release(hf_hub_download(hub, &ref, &force), &code),
                     HF_FUTURE_REJECTED);
    ck_assert_int_eq(code, HF_ECORRUPT);
    tu_mock_reset(&mock);
    /* cut short, then resumed from where it stopped */
    tu_mock_fault(&mock, "{\"path\": \"*/weights.lfs\", \"method\": \"GET\", \"count\": 1, "
                         "\"short_body\": 5000}");
    ck_assert_int_eq(settle_release(hf_hub_download(hub, &ref, &force), NULL),
                     HF_FUTURE_FULFILLED);
    tu_mock_reset(&mock);
    tu_mock_fault(&mock, "{\"path\": \"*/weights.lfs\", \"method\": \"GET\", \"count\": 1, "
                         "\"reset_after\": 3000}");
    ck_assert_int_eq(settle_release(hf_hub_download(hub, &ref, &force), NULL),
                     HF_FUTURE_FULFILLED);
    tu_mock_reset(&mock);
}

/* Timeouts that never fire (their input settles, or they are cancelled) and delays
 * cancelled: each disarms its timer. */
static void op_timers(unsigned round)
{
    hf_promise_t *p = hf_promise_new(), *q = hf_promise_new();
    hf_future_t *f = hf_promise_future(p), *g = hf_promise_future(q), *t, *u, *d;
    (void)round;
    t = hf_future_timeout(f, 600000);
    u = hf_future_timeout(g, 600000);
    d = hf_future_delay(600000);
    ck_assert_ptr_nonnull(t);
    ck_assert_ptr_nonnull(u);
    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(hf_promise_resolve(p, NULL, NULL), 0);
    ck_assert_int_eq(settle_release(t, NULL), HF_FUTURE_FULFILLED);
    ck_assert_int_eq(hf_future_cancel(u), 0);
    ck_assert_int_eq(hf_future_cancel(d), 0);
    hf_future_release(u);
    hf_future_release(d);
    hf_future_release(f);
    hf_future_release(g);
    hf_promise_free(p);
    hf_promise_free(q);
}

/* ---- the format readers' files -------------------------------------------------------------- */

typedef struct fixture_file {
    char path[1024];
    int kind;                   /* 0 gguf, 1 safetensors, 2 index, 3 tokenizer, 4 config */
} fixture_file_t;

static fixture_file_t ffiles[64];
static unsigned nffiles;

static int kind_of(const char *name)
{
    size_t n = strlen(name);
    if (n > 5 && !strcmp(name + n - 5, ".gguf"))
        return 0;
    if (n > 12 && !strcmp(name + n - 12, ".safetensors"))
        return 1;
    if (n > 23 && !strcmp(name + n - 23, ".safetensors.index.json"))
        return 2;
    if (!strcmp(name, "tokenizer.json"))
        return 3;
    if (!strcmp(name, "config.json"))
        return 4;
    return -1;
}

/* One file of each kind from the fixtures, kept whole; then a corrupt copy of each: cut
 * after 40 bytes, and with its first bytes overwritten. */
static void find_fixtures(const char *dir, int have[5])
{
    DIR *d = opendir(dir);
    struct dirent *e;
    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d))) {
        char path[1024];
        struct stat sb;
        int k;
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (lstat(path, &sb) < 0)
            continue;
        if (S_ISDIR(sb.st_mode)) {
            find_fixtures(path, have);
            continue;
        }
        k = kind_of(e->d_name);
        if (k < 0 || have[k] || sb.st_size < 64 || nffiles + 3 > 64)
            continue;
        have[k] = 1;
        ffiles[nffiles].kind = k;
        snprintf(ffiles[nffiles++].path, sizeof ffiles[0].path, "%s", path);
    }
    closedir(d);
}

static void make_format_files(void)
{
    int have[5] = { 0 };
    unsigned whole;
    nffiles = 0;
    find_fixtures(mock.root, have);
    for (int k = 0; k < 5; k++)
        ck_assert_msg(have[k], "the fixtures have no file of kind %d", k);
    whole = nffiles;
    for (unsigned i = 0; i < whole; i++) {
        char *s = rel_slurp(ffiles[i].path);
        long long n = rel_file_size(ffiles[i].path);
        const char *base = strrchr(ffiles[i].path, '/') + 1;
        char copy[1024];
        snprintf(copy, sizeof copy, "%.700s/%u-%.200s", scratch, i, base); /* watched */
        rel_write_file(copy, s, (size_t)n);
        snprintf(ffiles[i].path, sizeof ffiles[i].path, "%s", copy);
        for (int v = 0; v < 2; v++) {
            fixture_file_t *c = &ffiles[nffiles++];
            c->kind = ffiles[i].kind;
            snprintf(c->path, sizeof c->path, "%s/corrupt%u-%d", scratch, i, v);
            if (v == 0) {
                rel_write_file(c->path, s, 40);
            } else {
                memset(s, 0x7b, 24);
                rel_write_file(c->path, s, (size_t)n);
            }
        }
        free(s);
    }
}

static int load_one(const fixture_file_t *ff)
{
    hf_error_t e;
    int rc;
    switch (ff->kind) {
    case 0: {
        hf_gguf_t *g = NULL;
        if ((rc = hf_gguf_open(ff->path, &g, &e)) == 0)
            hf_gguf_close(g);
        break;
    }
    case 1: {
        hf_safetensors_t *st = NULL;
        if ((rc = hf_safetensors_open(ff->path, &st, &e)) == 0)
            hf_safetensors_close(st);
        break;
    }
    case 2: {
        hf_st_index_t *ix = NULL;
        if ((rc = hf_st_index_load(ff->path, &ix, &e)) == 0)
            hf_st_index_free(ix);
        break;
    }
    case 3: {
        hf_tokenizer_t *t = NULL;
        if ((rc = hf_tokenizer_load(ff->path, &t, &e)) == 0)
            hf_tokenizer_free(t);
        break;
    }
    default: {
        hf_config_t *c = NULL;
        if ((rc = hf_config_load(ff->path, &c, &e)) == 0)
            hf_config_free(c);
        break;
    }
    }
    return rc;
}

static void op_formats(unsigned round)
{
    (void)round;
    for (unsigned i = 0; i < nffiles; i++) {
        int rc = load_one(&ffiles[i]);
        if (strstr(ffiles[i].path, "/corrupt"))
            ck_assert_msg(rc < 0, "%s read", ffiles[i].path);
        else
            ck_assert_msg(rc == 0, "%s: %d", ffiles[i].path, rc);
    }
}

static void op_cache_tools(unsigned round)
{
    hf_cache_report_t *r = NULL;
    hf_error_t e;
    size_t bad = 1;
    (void)round;
    ck_assert_int_eq(hf_cache_scan(cache, &r, &e), 0);
    hf_cache_report_free(r);
    ck_assert_int_ge(hf_cache_verify(cache, HF_REPO_MODEL, REPO, &bad, NULL, NULL, &e), 1);
    ck_assert_uint_eq(bad, 0);
    ck_assert_int_eq(hf_cache_scan("/nonexistent/res-cache", &r, &e), HF_ENOENT);
    ck_assert_int_eq(hf_cache_verify(cache, HF_REPO_MODEL, "org/none", NULL, NULL, NULL, &e),
                     HF_ENOENT);
}

/* ---- tests ---------------------------------------------------------------------------------- */

START_TEST(the_two_ways_of_counting_descriptors_agree)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) {
        printf("check_resources: no /proc/self/fd: only fcntl counts\n");
        return;
    }
    ck_assert_int_eq(count_fds(NULL, NULL), count_fds_fcntl());       /* both count d's own */
    closedir(d);
}
END_TEST

START_TEST(cached_downloads_leave_nothing_behind)
{
    repeat("cached download", op_download_cached, 3, 60);
}
END_TEST

START_TEST(forced_downloads_leave_nothing_behind)
{
    repeat("forced download", op_download_forced, 3, 100);
}
END_TEST

START_TEST(fresh_downloads_leave_nothing_behind)
{
    repeat("fresh download", op_download_fresh, 3, 60);
}
END_TEST

START_TEST(metadata_repo_info_and_listings_leave_nothing_behind)
{
    repeat("metadata, repo info, listing", op_api, 3, 40);
}
END_TEST

START_TEST(snapshots_leave_nothing_behind)
{
    repeat("snapshot", op_snapshot, 3, 40);
}
END_TEST

START_TEST(cancelled_downloads_leave_nothing_behind)
{
    repeat("cancelled download", op_cancel, 2, 40);
}
END_TEST

START_TEST(failed_downloads_leave_nothing_behind)
{
    hf_hub_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_retries = 1;                /* retries off */
    hub_cfg = &cfg;
    tu_mock_fault(&mock, "{\"path\": \"*/broken.bin\", \"method\": \"HEAD\", \"status\": 500}");
    repeat("failed download", op_fail, 3, 40);
}
END_TEST

START_TEST(hub_cycles_leave_nothing_behind)
{
    repeat("hf_hub_new/free", op_hub_cycle, 3, 60);
}
END_TEST

START_TEST(runtime_cycles_leave_nothing_behind)
{
    repeat("hf_runtime_new/free", op_runtime_cycle, 3, 60);
}
END_TEST

START_TEST(model_loads_and_releases_unmap_their_files)
{
    static const char *const names[] = { "kimi-k2", "phi4-reasoning", "stella", "gte-qwen",
                                         "sd35-turbo" };
    char what[64];
    model_name = names[_i];
    snprintf(what, sizeof what, "model %s", model_name);
    repeat(what, op_model, 2, 15);
}
END_TEST

START_TEST(failed_model_loads_release_what_they_opened)
{
    repeat("failed model loads", op_model_fail, 2, 20);
}
END_TEST

START_TEST(cancelled_model_loads_leave_nothing_behind)
{
    skip_locks = 1;
    repeat("cancelled model load", op_model_cancel, 2, 10);
}
END_TEST

START_TEST(cancelled_snapshots_and_metadata_leave_nothing_behind)
{
    skip_locks = 1;         /* big.lfs's lock is there if the cancel came after it was taken */
    repeat("cancelled snapshot and metadata", op_cancel_other, 2, 20);
}
END_TEST

START_TEST(blocking_downloads_and_bad_bodies_leave_nothing_behind)
{
    repeat("blocking download, bad bodies", op_blocking_and_bad_bodies, 2, 30);
}
END_TEST

START_TEST(timeouts_and_delays_disarm_their_timers)
{
    timer_thread_goes = 1;
    repeat("timeouts and delays", op_timers, 2, 200);
}
END_TEST

START_TEST(format_readers_release_on_success_and_on_error)
{
    make_format_files();
    repeat("format readers", op_formats, 2, 100);
}
END_TEST

START_TEST(cache_scan_verify_and_remove_leave_nothing_behind)
{
    hf_error_t e;
    open_hub();
    op_download_fresh(0);
    close_hub();
    repeat("cache scan and verify", op_cache_tools, 2, 100);
    ck_assert_int_gt(hf_cache_remove(cache, HF_REPO_MODEL, REPO, NULL, &e), 0);
}
END_TEST

/* One case per test, so that CK_RUN_CASE=<test name> runs one. */
static void add(Suite *s, const char *name, const TTest *t, int loops)
{
    TCase *tc = tcase_create(name);
    tcase_add_unchecked_fixture(tc, suite_setup, NULL);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, t, 0, loops);
    suite_add_tcase(s, tc);
}

#define ADD(s, t, loops) add(s, #t, t, loops)

static Suite *resources_suite(void)
{
    Suite *s = suite_create("resources");
    ADD(s, the_two_ways_of_counting_descriptors_agree, 1);
    ADD(s, cached_downloads_leave_nothing_behind, 1);
    ADD(s, forced_downloads_leave_nothing_behind, 1);
    ADD(s, fresh_downloads_leave_nothing_behind, 1);
    ADD(s, metadata_repo_info_and_listings_leave_nothing_behind, 1);
    ADD(s, snapshots_leave_nothing_behind, 1);
    ADD(s, cancelled_downloads_leave_nothing_behind, 1);
    ADD(s, failed_downloads_leave_nothing_behind, 1);
    ADD(s, hub_cycles_leave_nothing_behind, 1);
    ADD(s, runtime_cycles_leave_nothing_behind, 1);
    ADD(s, failed_model_loads_release_what_they_opened, 1);
    ADD(s, cancelled_model_loads_leave_nothing_behind, 1);
    ADD(s, cancelled_snapshots_and_metadata_leave_nothing_behind, 1);
    ADD(s, blocking_downloads_and_bad_bodies_leave_nothing_behind, 1);
    ADD(s, timeouts_and_delays_disarm_their_timers, 1);
    ADD(s, model_loads_and_releases_unmap_their_files, 5);
    ADD(s, format_readers_release_on_success_and_on_error, 1);
    ADD(s, cache_scan_verify_and_remove_leave_nothing_behind, 1);
    return s;
}

TU_MAIN(resources_suite)
