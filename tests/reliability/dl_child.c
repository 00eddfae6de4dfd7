/*
 * dl_child.c - the reliability suites' second process: downloads files of one repo into a
 * cache and reports each result, so that a test can SIGKILL it, run eight at once on one
 * cache, or run it under a lowered RLIMIT_FSIZE or as another user.
 *
 *   dl_child [-n] [-o] [-b MS] [-t MS] [-f BYTES] [-p BYTES] [-u UID] [-w FD] ENDPOINT CACHE
 *            REPO FILE...
 *     -n        skip flock (the test hook hfi_cache_test_skip_flock)
 *     -o        offline: hf_hub_try_cache only, no network
 *     -b, -t    retry backoff and per-read download timeout in ms
 *     -f BYTES  RLIMIT_FSIZE (SIGXFSZ ignored, so writes past it fail with EFBIG)
 *     -p BYTES  files this large download as parallel ranges (the hub's parallel_threshold)
 *     -u UID    setgid/setuid to UID first (root's tests, so that permissions apply)
 *     -w FD     read FD until end of file before starting (a start barrier)
 *
 * Design notes
 *  - all files are requested at once and waited for in order; one line each on stdout:
 *    "ok <path>" or "err <code> <message>"; then "bytes <n> requests <n>" from
 *    hf_hub_stats (the body bytes this process received);
 *  - exit status 0 when every file succeeded, 1 when one failed, 2 on bad usage or setup.
 */
#include "config.h"

#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "hfasync.h"
#include "hub/cache.h"

static int usage(void)
{
    fprintf(stderr, "usage: dl_child [-n] [-o] [-b MS] [-t MS] [-f BYTES] [-u UID] [-w FD] "
                    "ENDPOINT CACHE REPO FILE...\n");
    return 2;
}

static int drop_to(uid_t uid)
{
    if (geteuid() == 0 && setgroups(0, NULL) < 0)
        return -1;
    return setgid((gid_t)uid) < 0 || setuid(uid) < 0 ? -1 : 0;
}

static void wait_barrier(int fd)
{
    char c;
    while (read(fd, &c, 1) > 0)
        ;
    close(fd);
}

int main(int argc, char **argv)
{
    hf_hub_config_t cfg;
    hf_runtime_t *rt = NULL;
    hf_hub_t *hub;
    hf_hub_stats_t st;
    hf_error_t e;
    hf_future_t **fs;
    int opt, offline = 0, barrier = -1, failed = 0, nfiles;

    memset(&cfg, 0, sizeof cfg);
    cfg.token = "";
    cfg.backoff_ms = 10;
    while ((opt = getopt(argc, argv, "nob:t:f:p:u:w:")) != -1) {
        switch (opt) {
        case 'n':
            hfi_cache_test_skip_flock(1);
            break;
        case 'o':
            offline = 1;
            break;
        case 'b':
            cfg.backoff_ms = (unsigned)atoi(optarg);
            break;
        case 't':
            cfg.download_timeout_ms = (unsigned)atoi(optarg);
            break;
        case 'f': {
            struct rlimit rl;
            rl.rlim_cur = rl.rlim_max = (rlim_t)strtoull(optarg, NULL, 10);
            signal(SIGXFSZ, SIG_IGN);
            if (setrlimit(RLIMIT_FSIZE, &rl) < 0) {
                perror("setrlimit");
                return 2;
            }
            break;
        }
        case 'p':
            cfg.parallel_threshold = strtoull(optarg, NULL, 10);
            break;
        case 'u':
            if (drop_to((uid_t)atoi(optarg)) < 0) {
                perror("setuid");
                return 2;
            }
            break;
        case 'w':
            barrier = atoi(optarg);
            break;
        default:
            return usage();
        }
    }
    if (argc - optind < 4)
        return usage();
    cfg.endpoint = argv[optind];
    cfg.cache_dir = argv[optind + 1];
    cfg.offline = offline ? HF_YES : HF_NO;
    nfiles = argc - optind - 3;
    if ((rt = hf_runtime_new(NULL)) == NULL)
        return 2;
    if ((hub = hf_hub_new(rt, &cfg, &e)) == NULL) {
        printf("err %d hf_hub_new: %s\n", e.code, e.message);
        return 2;
    }
    if (barrier >= 0)
        wait_barrier(barrier);
    if ((fs = calloc((size_t)nfiles, sizeof *fs)) == NULL)
        return 2;
    for (int i = 0; i < nfiles; i++) {
        hf_file_ref_t ref = { argv[optind + 2], HF_REPO_MODEL, NULL, argv[optind + 3 + i] };
        char *path = NULL;
        int rc;
        if (!offline) {
            fs[i] = hf_hub_download(hub, &ref, NULL);
            continue;
        }
        rc = hf_hub_try_cache(hub, &ref, &path);
        if (rc == 0)
            printf("ok %s\n", path);
        else
            printf("err %d not in the cache\n", rc);
        failed |= rc != 0;
        free(path);
    }
    for (int i = 0; i < nfiles && !offline; i++) {
        hf_future_wait(fs[i], -1);
        if (hf_future_state(fs[i]) == HF_FUTURE_FULFILLED) {
            printf("ok %s\n", (const char *)hf_future_value(fs[i]));
        } else {
            const hf_error_t *fe = hf_future_error(fs[i]);
            printf("err %d %s\n", fe ? fe->code : HF_ECANCELED, fe ? fe->message : "cancelled");
            failed = 1;
        }
        hf_future_release(fs[i]);
    }
    if (!offline && hf_hub_stats(hub, &st) == 0)
        printf("bytes %llu requests %llu\n", (unsigned long long)st.bytes_received,
               (unsigned long long)st.requests);
    free(fs);
    hf_hub_free(hub);
    hf_runtime_free(rt);
    return failed;
}
