/*
 * engine.c - the transfer engine: libcurl multi loops on the I/O pool.
 *
 * Design notes
 *  - `loops` loops (1 to 4), each a long-running task on the runtime's I/O pool that owns
 *    one CURLM and every easy handle in it. Only loop threads call libcurl (counted per
 *    thread role: the counters prove it). Submitters push onto the loop's queue under
 *    `mu` and write a byte to its pipe;
 *  - libcurl's socket interface: it tells the loop which sockets to watch and when its
 *    next timeout is due; the loop waits on a poller (poller.c: epoll, or poll()) holding
 *    those sockets and the pipe, and hands libcurl only the sockets that are ready, so a
 *    turn costs what the ready transfers cost, not what every live transfer costs;
 *    each transfer remembers the sockets libcurl asked to watch for it, and the loop stops
 *    watching them before curl_multi_remove_handle: libcurl 7.88 closes the socket of a
 *    transfer still connecting without a word and says "stop watching" only after the
 *    close, when another thread may have been given the number (poller.c);
 *  - a transfer's private part (xpriv_t) is shared by the loop and the cancel hook of its
 *    promise, hence a reference count of 2; the hook only sets a flag, queues the
 *    transfer for the loop and wakes it; the loop removes and finalises it at once.
 *    hfi_engine_abort() flags the transfer and marks the loop dirty; a sweep of the live
 *    transfers (when dirty, and every SWEEP_MS for inactivity) finalises those flagged;
 *  - completion settles the transfer's promise on the loop thread; the promise is bound to
 *    that thread, so a wait on it from there is HF_EDEADLK instead of a hang;
 *  - inactivity: every transfer records when its last byte arrived (the loop's clock, read
 *    once per turn); the sweep ends one idle longer than its limit with HF_ETIMEDOUT;
 *  - redirects are never followed by libcurl (the download logic decides), and the token
 *    is only attached to requests for the endpoint's own origin;
 *  - TLS peer and host verification are always on; the hub's ca_file only replaces the
 *    trusted CAs. A refused certificate is HF_ETLS (never retried), not HF_ENETWORK;
 *  - a loop also stops when its I/O pool shuts down, cancelling what it holds, so freeing
 *    the runtime under a live hub does not hang;
 *  - the hub's conns_total is shared out: each loop's multi handle may open conns_total /
 *    loops connections (there are at most conns_total loops), so all together stay within it;
 *  - lock order: loop->mu is a leaf; it is never held while calling libcurl or settling.
 */
#include "config.h"

#include "hub/engine.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/future_impl.h"
#include "core/io.h"
#include "core/parklot.h"
#include "core/tls.h"
#include "hub/hub_impl.h"
#include "hub/poller.h"

#define MAX_LOOPS 4
#define POLL_MS 200             /* the longest a loop sleeps without looking at its flags */
#define SWEEP_MS 100            /* how often live transfers are checked for inactivity */
#define MAX_EVENTS 64
#define MAX_SOCKS 4             /* sockets of one transfer at once (happy eyeballs: 2) */

typedef struct loop loop_t;

typedef struct xpriv {
    hfi_xfer_t *x;
    hf_promise_t *p;
    loop_t *loop;
    CURL *easy;
    struct curl_slist *hdrs;
    _Atomic int refs;           /* the loop's and the cancel hook's */
    _Atomic int cancel;
    int abort_code;             /* set by the body sink */
    int timed_out;
    int live;                   /* added to the multi handle (loop thread only) */
    int socks[MAX_SOCKS];       /* watched for this transfer (loop thread only); */
    int nsocks;                 /* more than MAX_SOCKS: the rest are not remembered */
    uint64_t last_ns;           /* last sign of life (the loop's clock) */
    size_t body_cap;
    struct xpriv *next;         /* in loop->submitted, under loop->mu */
    struct xpriv *cnext;        /* in loop->cancelled, under loop->mu */
    struct xpriv *lprev, *lnext;/* in loop->live (loop thread only) */
    char errbuf[CURL_ERROR_SIZE];
} xpriv_t;

struct loop {
    hfi_engine_t *e;
    CURLM *multi;               /* loop thread only */
    hfi_poller_t *poller;       /* loop thread only (made with the engine) */
    xpriv_t *live;              /* loop thread only: started transfers */
    uint64_t now_ns;            /* loop thread only: the clock, read once per turn */
    uint64_t timer_at;          /* loop thread only: libcurl's timeout is due; 0: none */
    uint64_t next_sweep;        /* loop thread only */
    _Atomic int dirty;          /* a live transfer was aborted: sweep */
    int wake[2];
    pthread_mutex_t mu;
    xpriv_t *submitted, *cancelled;
    int closing;                /* refuse new transfers, abort live ones, keep running */
    int stop;
    hf_future_t *task;
    unsigned active;            /* loop thread only */
};

struct hfi_engine {
    hf_hub_t *hub;
    unsigned nloops;
    loop_t loops[MAX_LOOPS];
    _Atomic unsigned next_loop;
    _Atomic uint64_t requests, bytes;
    _Atomic unsigned active, peak;
    _Atomic uint64_t calls_io, calls_compute, calls_other;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Count a libcurl call by the role of the calling thread. */
static void count_call(hfi_engine_t *e)
{
    if (hfi_tls.io)
        atomic_fetch_add_explicit(&e->calls_io, 1, memory_order_relaxed);
    else if (hfi_tls.worker)
        atomic_fetch_add_explicit(&e->calls_compute, 1, memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&e->calls_other, 1, memory_order_relaxed);
}
#define CURLCALL(e, expr) (count_call(e), (expr))

static void xpriv_unref(xpriv_t *xp)
{
    if (atomic_fetch_sub(&xp->refs, 1) == 1)
        hfi_free(xp);
}

static void wake(loop_t *l)
{
    char b = 1;
    ssize_t n = write(l->wake[1], &b, 1);
    (void)n;                    /* a full pipe already means "wake up" */
}

/* ---- request setup (loop thread) ------------------------------------------------------- */

static const char *const header_names[HFI_H_COUNT] = {
    "x-repo-commit", "etag", "x-linked-etag", "x-linked-size", "content-length", "location",
    "content-range", "retry-after", "ratelimit", "x-error-code", "x-error-message", "link",
    "accept-ranges",
};

static void clear_headers(hfi_xfer_t *x)
{
    for (int i = 0; i < HFI_H_COUNT; i++) {
        hfi_free(x->headers[i]);
        x->headers[i] = NULL;
    }
}

static size_t on_header(char *buf, size_t size, size_t n, void *arg)
{
    xpriv_t *xp = arg;
    hfi_xfer_t *x = xp->x;
    size_t len = size * n, name_len;
    const char *colon;

    xp->last_ns = xp->loop->now_ns;
    if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
        /* a new response (after a 100 Continue, say): forget the previous headers */
        const char *sp = memchr(buf, ' ', len);
        clear_headers(x);
        x->status = sp && (size_t)(sp - buf) + 4 <= len ? strtol(sp + 1, NULL, 10) : 0;
        return len;
    }
    if ((colon = memchr(buf, ':', len)) == NULL)
        return len;
    name_len = (size_t)(colon - buf);
    for (int i = 0; i < HFI_H_COUNT; i++) {
        if (strlen(header_names[i]) == name_len && strncasecmp(buf, header_names[i], name_len) == 0) {
            const char *v = colon + 1, *end = buf + len;
            char *copy;
            while (v < end && (*v == ' ' || *v == '\t'))
                v++;
            while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
                end--;
            if ((copy = hfi_malloc((size_t)(end - v) + 1)) == NULL)
                return 0;       /* aborts the transfer */
            memcpy(copy, v, (size_t)(end - v));
            copy[end - v] = '\0';
            hfi_free(x->headers[i]);
            x->headers[i] = copy;
            break;
        }
    }
    return len;
}

static size_t on_write(char *buf, size_t size, size_t n, void *arg)
{
    xpriv_t *xp = arg;
    hfi_xfer_t *x = xp->x;
    size_t len = size * n;

    xp->last_ns = xp->loop->now_ns;
    if (atomic_load_explicit(&xp->cancel, memory_order_relaxed) ||
        atomic_load_explicit(&x->abort, memory_order_relaxed))
        return 0;
    x->bytes += len;
    atomic_fetch_add_explicit(&xp->loop->e->bytes, len, memory_order_relaxed);
    if (x->on_body) {
        int rc = x->on_body(x, buf, len);
        if (rc < 0) {
            xp->abort_code = rc;
            return 0;
        }
        return len;
    }
    if (x->body_len + len > x->max_body) {
        xp->abort_code = hf_error_set(&x->err, HF_EPROTO, x->status,
                                      "response larger than %zu bytes", x->max_body);
        return 0;
    }
    if (x->body_len + len + 1 > xp->body_cap) {
        size_t cap = xp->body_cap ? xp->body_cap : 4096;
        char *nb;
        while (cap < x->body_len + len + 1)
            cap *= 2;
        if ((nb = hfi_realloc(x->body, cap)) == NULL) {
            xp->abort_code = hf_error_set(&x->err, HF_ENOMEM, 0, "out of memory");
            return 0;
        }
        x->body = nb;
        xp->body_cap = cap;
    }
    memcpy(x->body + x->body_len, buf, len);
    x->body_len += len;
    x->body[x->body_len] = '\0';
    return len;
}

static int start(loop_t *l, xpriv_t *xp)
{
    hfi_engine_t *e = l->e;
    hf_hub_t *hub = e->hub;
    hfi_xfer_t *x = xp->x;
    CURL *c;
    char range[64];

    if ((c = CURLCALL(e, curl_easy_init())) == NULL)
        return hf_error_set(&x->err, HF_ENOMEM, 0, "cannot create a transfer");
    xp->easy = c;
    CURLCALL(e, curl_easy_setopt(c, CURLOPT_URL, x->url));
    CURLCALL(e, curl_easy_setopt(c, CURLOPT_PRIVATE, xp));
    CURLCALL(e, curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L));
    CURLCALL(e, curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L));
    CURLCALL(e, curl_easy_setopt(c, CURLOPT_ERRORBUFFER, xp->errbuf));
    CURLCALL(e, curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header));
    CURLCALL(e, curl_easy_setopt(c, CURLOPT_HEADERDATA, xp));
    CURLCALL(e, curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write));
    CURLCALL(e, curl_easy_setopt(c, CURLOPT_WRITEDATA, xp));
    CURLCALL(e, curl_easy_setopt(c, CURLOPT_USERAGENT, hub->user_agent));
    CURLCALL(e, curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1));
#if LIBCURL_VERSION_NUM >= 0x075500
    CURLCALL(e, curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https"));
#else
    CURLCALL(e, curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)));
#endif
    if (x->timeout_ms)
        CURLCALL(e, curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)x->timeout_ms));
    /* Verification is always on: only where the trusted CAs come from can change. */
    CURLCALL(e, curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L));
    CURLCALL(e, curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L));
    if (hub->ca_file)
        CURLCALL(e, curl_easy_setopt(c, CURLOPT_CAINFO, hub->ca_file));
    if (x->head) {
        CURLCALL(e, curl_easy_setopt(c, CURLOPT_NOBODY, 1L));
        xp->hdrs = CURLCALL(e, curl_slist_append(xp->hdrs, "Accept-Encoding: identity"));
    }
    if (x->post) {
        char ct[128];
        CURLCALL(e, curl_easy_setopt(c, CURLOPT_POSTFIELDS, x->post));
        snprintf(ct, sizeof ct, "Content-Type: %s",
                 x->content_type ? x->content_type : "application/json");
        xp->hdrs = CURLCALL(e, curl_slist_append(xp->hdrs, ct));
    }
    if (x->buffer_size)
        CURLCALL(e, curl_easy_setopt(c, CURLOPT_BUFFERSIZE, (long)x->buffer_size));
    if (x->range_from != UINT64_MAX) {
        if (x->range_to != UINT64_MAX)
            snprintf(range, sizeof range, "%llu-%llu", (unsigned long long)x->range_from,
                     (unsigned long long)x->range_to);
        else
            snprintf(range, sizeof range, "%llu-", (unsigned long long)x->range_from);
        CURLCALL(e, curl_easy_setopt(c, CURLOPT_RANGE, range));
    }
    /* The token goes only to the endpoint's own origin. */
    if (x->with_auth && hub->auth_header && hfi_same_origin(hub, x->url))
        xp->hdrs = CURLCALL(e, curl_slist_append(xp->hdrs, hub->auth_header));
    if (xp->hdrs)
        CURLCALL(e, curl_easy_setopt(c, CURLOPT_HTTPHEADER, xp->hdrs));
    xp->last_ns = l->now_ns;
    if (CURLCALL(e, curl_multi_add_handle(l->multi, c)) != CURLM_OK)
        return hf_error_set(&x->err, HF_ENOMEM, 0, "cannot start a transfer");
    return 0;
}

/* A certificate the client refuses (or cannot check): retrying would not help. */
static int tls_refused(CURLcode res)
{
    switch (res) {
    case CURLE_PEER_FAILED_VERIFICATION:    /* also CURLE_SSL_CACERT */
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
        return 1;
    default:
        return 0;
    }
}

/* Settle a transfer's promise and release the loop's hold on it. */
static void finish(loop_t *l, xpriv_t *xp, CURLcode res, int started)
{
    hfi_engine_t *e = l->e;
    hfi_xfer_t *x = xp->x;
    int rc = 0;

    if (started) {
        long status = 0;
        CURLCALL(e, curl_easy_getinfo(xp->easy, CURLINFO_RESPONSE_CODE, &status));
        if (status)
            x->status = status;
        /* Removing the handle closes the sockets of a transfer not done, maybe before
         * libcurl tells us to stop watching them: stop now, while they are open. */
        while (xp->nsocks > 0)
            (void)hfi_poller_set(l->poller, xp->socks[--xp->nsocks], 0);
        CURLCALL(e, curl_multi_remove_handle(l->multi, xp->easy));
        xp->live = 0;
        if (xp->lprev)
            xp->lprev->lnext = xp->lnext;
        else
            l->live = xp->lnext;
        if (xp->lnext)
            xp->lnext->lprev = xp->lprev;
        l->active--;
        atomic_fetch_sub(&e->active, 1);
    }
    if (xp->easy)
        CURLCALL(e, curl_easy_cleanup(xp->easy));
    if (xp->hdrs)
        CURLCALL(e, curl_slist_free_all(xp->hdrs));
    xp->easy = NULL;
    xp->hdrs = NULL;

    if (atomic_load(&xp->cancel) || atomic_load(&x->abort))
        rc = hf_error_set(&x->err, HF_ECANCELED, 0, "transfer cancelled");
    else if (xp->abort_code)
        rc = xp->abort_code;    /* the sink filled x->err */
    else if (x->err.code < 0)
        rc = x->err.code;       /* failed to start */
    else if (res == CURLE_OK)
        rc = 0;
    else if (xp->timed_out || res == CURLE_OPERATION_TIMEDOUT)
        rc = hf_error_set(&x->err, HF_ETIMEDOUT, 0, "no data for %u ms", x->timeout_ms);
    else if (tls_refused(res))
        rc = hf_error_set(&x->err, HF_ETLS, 0,
                          "TLS certificate not trusted (%s%s%s); give the hub a CA file "
                          "(ca_file, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE or SSL_CERT_FILE)",
                          CURLCALL(e, curl_easy_strerror(res)), xp->errbuf[0] ? ": " : "",
                          xp->errbuf);
    else
        rc = hf_error_set(&x->err, HF_ENETWORK, 0, "%s%s%s",
                          CURLCALL(e, curl_easy_strerror(res)), xp->errbuf[0] ? ": " : "",
                          xp->errbuf);
    if (rc == 0)
        hf_promise_resolve(xp->p, x, NULL);
    else if (rc == HF_ECANCELED)
        hf_future_cancel((hf_future_t *)(void *)xp->p);
    else
        hf_promise_reject(xp->p, &x->err);
    hf_promise_free(xp->p);
    xpriv_unref(xp);
}

static void take_queues(loop_t *l, xpriv_t **sub, xpriv_t **can)
{
    pthread_mutex_lock(&l->mu);
    *sub = l->submitted;
    *can = l->cancelled;
    l->submitted = l->cancelled = NULL;
    pthread_mutex_unlock(&l->mu);
}

/* 2: stop (end the loop once nothing is live); 1: closing (refuse and abort, go on);
 * 0: neither. */
static int loop_stopping(loop_t *l)
{
    int stop, closing;
    pthread_mutex_lock(&l->mu);
    stop = l->stop;
    closing = l->closing;
    pthread_mutex_unlock(&l->mu);
    if (stop || (hfi_tls.io && hfi_io_interrupted(hfi_tls.io)))
        return 2;
    return closing;
}

/* ---- libcurl's socket interface (loop thread) ------------------------------------------ */

/* Remember (or forget) `fd` as one of the sockets watched for `xp`. */
static void note_socket(xpriv_t *xp, int fd, int watched)
{
    int i;

    for (i = 0; i < xp->nsocks && xp->socks[i] != fd; i++)
        ;
    if (!watched && i < xp->nsocks)
        xp->socks[i] = xp->socks[--xp->nsocks];
    else if (watched && i == xp->nsocks && xp->nsocks < MAX_SOCKS)
        xp->socks[xp->nsocks++] = fd;
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    loop_t *l = userp;
    unsigned ev = what == CURL_POLL_IN ? HFI_POLL_IN : what == CURL_POLL_OUT ? HFI_POLL_OUT :
                  what == CURL_POLL_INOUT ? HFI_POLL_IN | HFI_POLL_OUT : 0;
    xpriv_t *xp = NULL;

    (void)socketp;
    if (easy &&
        CURLCALL(l->e, curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&xp)) == CURLE_OK && xp)
        note_socket(xp, (int)fd, ev != 0);
    return hfi_poller_set(l->poller, (int)fd, ev) < 0 ? -1 : 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    loop_t *l = userp;
    (void)multi;
    /* -1: no timeout; 0: at once (the turn after this one). hfi_now_ns() is never 0. */
    l->timer_at = timeout_ms < 0 ? 0 : hfi_now_ns() + (uint64_t)timeout_ms * 1000000u;
    return 0;
}

/* Settle every transfer libcurl has finished. */
static void reap(loop_t *l)
{
    hfi_engine_t *e = l->e;
    CURLMsg *msg;
    int left = 0;

    while ((msg = CURLCALL(e, curl_multi_info_read(l->multi, &left))) != NULL) {
        if (msg->msg == CURLMSG_DONE) {
            xpriv_t *xp = NULL;
            CURLcode res = msg->data.result;
            CURLCALL(e, curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&xp));
            finish(l, xp, res, 1);
        }
    }
}

/* End, at once, the live transfers that were cancelled, aborted, or idle too long (all of
 * them when `all`). */
static void sweep(loop_t *l, int all)
{
    xpriv_t *xp = l->live, *next;

    for (; xp; xp = next) {
        hfi_xfer_t *x = xp->x;
        next = xp->lnext;
        if (all)
            atomic_store(&xp->cancel, 1);
        if (atomic_load(&xp->cancel) || atomic_load(&x->abort)) {
            finish(l, xp, CURLE_ABORTED_BY_CALLBACK, 1);
        } else if (x->timeout_ms &&
                   l->now_ns - xp->last_ns > (uint64_t)x->timeout_ms * 1000000u) {
            xp->timed_out = 1;
            finish(l, xp, CURLE_OPERATION_TIMEDOUT, 1);
        }
    }
    l->next_sweep = l->now_ns + (uint64_t)SWEEP_MS * 1000000u;
}

static void start_submitted(loop_t *l, xpriv_t *sub, int stopping)
{
    hfi_engine_t *e = l->e;

    while (sub) {
        xpriv_t *next = sub->next;
        hf_promise_bind_thread(sub->p);
        if (stopping)
            atomic_store(&sub->cancel, 1);  /* ends as cancelled, never started */
        if (stopping || atomic_load(&sub->cancel) || atomic_load(&sub->x->abort) ||
            start(l, sub) < 0) {
            finish(l, sub, CURLE_OK, 0);
        } else {
            unsigned a = atomic_fetch_add(&e->active, 1) + 1, pk = atomic_load(&e->peak);
            while (a > pk && !atomic_compare_exchange_weak(&e->peak, &pk, a))
                ;
            atomic_fetch_add_explicit(&e->requests, 1, memory_order_relaxed);
            l->active++;
            sub->live = 1;
            sub->lprev = NULL;
            sub->lnext = l->live;
            if (l->live)
                l->live->lprev = sub;
            l->live = sub;
        }
        sub = next;
    }
}

/* How long the loop may sleep: until libcurl's timeout, the next sweep, or POLL_MS. */
static int wait_ms(const loop_t *l)
{
    uint64_t until = l->now_ns + (uint64_t)POLL_MS * 1000000u;

    if (l->timer_at && l->timer_at < until)
        until = l->timer_at;
    if (l->live && l->next_sweep < until)
        until = l->next_sweep;
    if (until <= l->now_ns)
        return 0;
    return (int)((until - l->now_ns + 999999u) / 1000000u);
}

static void *loop_run(void *arg, hf_error_t *err)
{
    loop_t *l = arg;
    hfi_engine_t *e = l->e;
    hfi_pollev_t evs[MAX_EVENTS];
    (void)err;

    pthread_once(&curl_once, curl_init_once);
    if ((l->multi = CURLCALL(e, curl_multi_init())) == NULL)
        return NULL;
    /* the hub's limit is for all loops together: each has its share (transfers go to
     * the loops in turn), or N loops would open N times as many */
    CURLCALL(e, curl_multi_setopt(l->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                                  (long)(e->hub->conns_total / e->nloops)));
    CURLCALL(e, curl_multi_setopt(l->multi, CURLMOPT_SOCKETFUNCTION, on_socket));
    CURLCALL(e, curl_multi_setopt(l->multi, CURLMOPT_SOCKETDATA, l));
    CURLCALL(e, curl_multi_setopt(l->multi, CURLMOPT_TIMERFUNCTION, on_timer));
    CURLCALL(e, curl_multi_setopt(l->multi, CURLMOPT_TIMERDATA, l));
    l->now_ns = hfi_now_ns();
    l->next_sweep = l->now_ns;
    for (;;) {
        xpriv_t *sub, *can;
        int running = 0, n, stopping = loop_stopping(l);

        take_queues(l, &sub, &can);
        start_submitted(l, sub, stopping);
        while (can) {
            xpriv_t *next = can->cnext;
            if (can->live)
                finish(l, can, CURLE_ABORTED_BY_CALLBACK, 1);
            xpriv_unref(can);   /* the hook's reference, which the queue held */
            can = next;
        }
        if (stopping || atomic_exchange(&l->dirty, 0) || l->now_ns >= l->next_sweep)
            sweep(l, stopping);
        if (stopping == 2 && l->active == 0)
            break;
        n = hfi_poller_wait(l->poller, wait_ms(l), evs, MAX_EVENTS);
        l->now_ns = hfi_now_ns();
        for (int i = 0; i < n; i++) {
            if (evs[i].fd == l->wake[0]) {
                char buf[256];
                while (read(l->wake[0], buf, sizeof buf) > 0)
                    ;
                continue;
            }
            CURLCALL(e, curl_multi_socket_action(l->multi, (curl_socket_t)evs[i].fd,
                                                 ((evs[i].events & HFI_POLL_IN) ? CURL_CSELECT_IN : 0) |
                                                 ((evs[i].events & HFI_POLL_OUT) ? CURL_CSELECT_OUT : 0) |
                                                 ((evs[i].events & HFI_POLL_ERR) ? CURL_CSELECT_ERR : 0),
                                                 &running));
        }
        if (l->timer_at && l->now_ns >= l->timer_at) {
            l->timer_at = 0;    /* libcurl sets the next one from inside the call */
            CURLCALL(e, curl_multi_socket_action(l->multi, CURL_SOCKET_TIMEOUT, 0, &running));
        }
        reap(l);
    }
    CURLCALL(e, curl_multi_cleanup(l->multi));
    l->multi = NULL;
    return NULL;
}

/* A loop lives as long as its hub and never comes back for the I/O queue: it counts as
 * blocked there, as a thread asleep in a wait does, so the pool starts others for the
 * queue. Counted in its place, two loops under an io_threads_max of 2 or less left no
 * thread for the hub's own tasks, and the hub hung, its hf_hub_free too. */
static void *loop_main(void *arg, hf_error_t *err)
{
    hfi_io_t *io = hfi_tls.io;
    void *r;

    if (io)
        hfi_io_block_begin(io);
    r = loop_run(arg, err);
    if (io)
        hfi_io_block_end(io);
    return r;
}

/* ---- the public side (any thread) ---------------------------------------------------- */

/* The promise's hook: on cancellation, flag the transfer and wake its loop. */
static void on_settled(hf_future_t *f, void *arg, int state)
{
    xpriv_t *xp = arg;
    (void)f;
    if (state == HF_FUTURE_CANCELLED) {
        loop_t *l = xp->loop;
        atomic_store(&xp->cancel, 1);
        pthread_mutex_lock(&l->mu);
        xp->cnext = l->cancelled;       /* the queue holds the hook's reference */
        l->cancelled = xp;
        pthread_mutex_unlock(&l->mu);
        wake(l);
        return;
    }
    xpriv_unref(xp);
}

void hfi_engine_abort(hfi_xfer_t *x)
{
    atomic_store(&x->abort, 1);
    if (x->loop) {
        loop_t *l = x->loop;
        atomic_store(&l->dirty, 1);
        wake(l);                /* the loop ends it at once instead of at its next sweep */
    }
}

void hfi_xfer_init(hfi_xfer_t *x, const char *url, unsigned timeout_ms)
{
    memset(x, 0, sizeof *x);
    atomic_init(&x->abort, 0);
    x->url = url;
    x->range_from = x->range_to = UINT64_MAX;
    x->timeout_ms = timeout_ms;
    x->max_body = 64u << 20;
}

void hfi_xfer_reset(hfi_xfer_t *x)
{
    clear_headers(x);
    hfi_free(x->body);
    x->body = NULL;
    x->body_len = 0;
    x->bytes = 0;
    x->status = 0;
    memset(&x->err, 0, sizeof x->err);
}

hf_future_t *hfi_engine_submit(hfi_engine_t *e, hfi_xfer_t *x)
{
    xpriv_t *xp;
    loop_t *l;
    hf_future_t *f;

    if ((xp = hfi_calloc(1, sizeof *xp)) == NULL)
        return NULL;
    if ((xp->p = hf_promise_new()) == NULL) {
        hfi_free(xp);
        return NULL;
    }
    f = hf_promise_future(xp->p);
    xp->x = x;
    x->priv = xp;
    x->err.code = 0;
    l = &e->loops[atomic_fetch_add(&e->next_loop, 1) % e->nloops];
    xp->loop = l;
    x->loop = l;
    atomic_init(&xp->refs, 2);
    hfi_future_set_hook((hf_future_t *)(void *)xp->p, on_settled, xp);
    pthread_mutex_lock(&l->mu);
    xp->next = l->submitted;
    l->submitted = xp;
    pthread_mutex_unlock(&l->mu);
    wake(l);
    return f;
}

static void loop_close_fds(loop_t *l)
{
    hfi_poller_free(l->poller);
    l->poller = NULL;
    close(l->wake[0]);
    close(l->wake[1]);
}

/* Make loop `l` (its pipe and poller) and start its task; 0, or an HF_E* code in `err`
 * with nothing left behind. */
static int loop_open(loop_t *l, hfi_engine_t *e, hf_runtime_t *rt, hf_error_t *err)
{
    l->e = e;
    if (pipe(l->wake) < 0)
        return hf_error_set(err, HF_EIO, 0, "cannot create a pipe: %s", strerror(errno));
    fcntl(l->wake[0], F_SETFL, fcntl(l->wake[0], F_GETFL) | O_NONBLOCK);
    fcntl(l->wake[1], F_SETFL, fcntl(l->wake[1], F_GETFL) | O_NONBLOCK);
    fcntl(l->wake[0], F_SETFD, FD_CLOEXEC);
    fcntl(l->wake[1], F_SETFD, FD_CLOEXEC);
    if ((l->poller = hfi_poller_new()) == NULL ||
        hfi_poller_set(l->poller, l->wake[0], HFI_POLL_IN) < 0) {
        loop_close_fds(l);
        return hf_error_set(err, HF_EIO, 0, "cannot create a poller: %s", strerror(errno));
    }
    pthread_mutex_init(&l->mu, NULL);
    if ((l->task = hf_spawn_blocking(rt, loop_main, l)) == NULL) {
        loop_close_fds(l);
        pthread_mutex_destroy(&l->mu);
        return hf_error_set(err, HF_ENOMEM, 0, "cannot start the transfer engine");
    }
    return 0;
}

hfi_engine_t *hfi_engine_new(hf_hub_t *hub, hf_runtime_t *rt, unsigned loops, hf_error_t *err)
{
    hfi_engine_t *e = hfi_calloc(1, sizeof *e);

    if (!e) {
        hf_error_set(err, HF_ENOMEM, 0, "out of memory");
        return NULL;
    }
    e->hub = hub;
    e->nloops = loops < 1 ? 1 : loops > MAX_LOOPS ? MAX_LOOPS : loops;
    if (e->nloops > hub->conns_total)   /* a connection each at least, conns_total in all */
        e->nloops = hub->conns_total ? hub->conns_total : 1;
    for (unsigned i = 0; i < e->nloops; i++) {
        if (loop_open(&e->loops[i], e, rt, err) < 0) {
            e->nloops = i;
            hfi_engine_free(e);
            return NULL;
        }
    }
    return e;
}

void hfi_engine_close(hfi_engine_t *e)
{
    if (!e)
        return;
    for (unsigned i = 0; i < e->nloops; i++) {
        loop_t *l = &e->loops[i];
        pthread_mutex_lock(&l->mu);
        l->closing = 1;
        pthread_mutex_unlock(&l->mu);
        wake(l);
    }
}

void hfi_engine_free(hfi_engine_t *e)
{
    if (!e)
        return;
    for (unsigned i = 0; i < e->nloops; i++) {
        loop_t *l = &e->loops[i];
        pthread_mutex_lock(&l->mu);
        l->stop = 1;
        pthread_mutex_unlock(&l->mu);
        wake(l);
    }
    for (unsigned i = 0; i < e->nloops; i++) {
        loop_t *l = &e->loops[i];
        xpriv_t *sub, *can;
        hf_future_wait(l->task, -1);
        hf_future_release(l->task);
        /* A loop that never ran (its runtime was already gone) leaves its queue here. */
        take_queues(l, &sub, &can);
        while (sub) {
            xpriv_t *next = sub->next;
            atomic_store(&sub->cancel, 1);
            finish(l, sub, CURLE_OK, 0);
            sub = next;
        }
        for (int round = 0; round < 2; round++) {
            /* round 2: the hooks of the transfers just cancelled queued themselves */
            if (round == 1)
                take_queues(l, &sub, &can);
            while (can) {
                xpriv_t *next = can->cnext;
                xpriv_unref(can);
                can = next;
            }
        }
        loop_close_fds(l);
        pthread_mutex_destroy(&l->mu);
    }
    hfi_free(e);
}

void hfi_engine_stats(hfi_engine_t *e, hf_hub_stats_t *out)
{
    out->requests = atomic_load(&e->requests);
    out->bytes_received = atomic_load(&e->bytes);
    out->transfers_active = atomic_load(&e->active);
    out->transfers_peak = atomic_load(&e->peak);
    out->curl_calls_io = atomic_load(&e->calls_io);
    out->curl_calls_compute = atomic_load(&e->calls_compute);
    out->curl_calls_other = atomic_load(&e->calls_other);
}
