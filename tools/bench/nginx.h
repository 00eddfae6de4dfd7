/*
 * nginx.h - nginx as the CDN behind hf-mock-hub (its --cdn-url) for hf-bench: it serves
 * a mock root with the mock CDN's path layout, throttled per connection with limit_rate,
 * at a fraction of the CPU the Python mock spends streaming throttled bodies, so that a
 * benchmark's client is what uses the machine.
 */
#ifndef HF_BENCH_NGINX_H
#define HF_BENCH_NGINX_H

#include <stdint.h>
#include <sys/types.h>

typedef struct nginx_cdn {
    pid_t pid;
    char url[128];              /* http://127.0.0.1:PORT */
    char note[160];             /* "nginx 1.22.1", or why it did not start */
} nginx_cdn_t;

/* A per-connection rate for the files of one model repo ("org/name"). */
typedef struct nginx_rate {
    const char *repo;
    uint64_t bps;
} nginx_rate_t;

/*
 * nginx_cdn_start - run nginx in the foreground (its master our child) with a config
 * written into `dir` (made if missing; pid file, error log and temp paths there too),
 * serving /repos/{type}s/ORG/NAME/<sha256>/PATH from ROOT/{type}s/ORG/NAME/PATH on a free
 * loopback port. Each connection is limited to `default_bps` bytes/s (0: unlimited),
 * except the repos in `rates`. nginx's output is appended to `log`. Returns 0, or -1 with
 * the reason in n->note (nginx not installed, or it did not start: see dir/error.log).
 */
int nginx_cdn_start(nginx_cdn_t *n, const char *dir, const char *root, const char *log,
                    uint64_t default_bps, const nginx_rate_t *rates, unsigned nrates);
/* Stop it (nothing if it is not running). */
void nginx_cdn_stop(nginx_cdn_t *n);

#endif /* HF_BENCH_NGINX_H */
