/*
 * poller.c - hfi_poller_t: epoll (Linux, found by configure) or poll().
 *
 * Design notes
 *  - epoll: the kernel keeps the interest set, and `watched` (one byte per descriptor
 *    number) mirrors which numbers this poller put there, so that `set` is one epoll_ctl
 *    and a removal of a number not watched makes no call at all. That matters: libcurl
 *    may ask to stop watching a socket after it closed it (curl_multi_remove_handle of a
 *    transfer still connecting), and by then another thread may have been given that
 *    number; the engine therefore stops watching a transfer's sockets before removing it
 *    from libcurl, and the late removal is a no-op instead of a call on a descriptor this
 *    thread no longer owns. A socket closed without telling us (the kernel drops it from
 *    the set) whose number comes back is re-added: MOD fails with ENOENT, then ADD;
 *  - poll: an array of pollfd, searched linearly by `set` (a socket is added or removed
 *    once per connection, far less often than a wait) and compacted by swapping with the
 *    last entry;
 *  - owned by one thread: no locks.
 */
#include "config.h"

#include "hub/poller.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef HAVE_EPOLL_CREATE1
#include <fcntl.h>
#include <sys/epoll.h>
#endif

#include "core/alloc.h"
#include "hf/error.h"

struct hfi_poller {
    int epfd;                   /* -1: the poll() backend */
    unsigned char *watched;     /* epoll backend: watched[fd] != 0 while fd is in the set */
    size_t wcap;
    struct pollfd *fds;         /* poll backend */
    nfds_t n, cap;
};

static int want_poll(void)
{
    const char *v = getenv("HFASYNC_POLLER");
    return v && strcmp(v, "poll") == 0;
}

hfi_poller_t *hfi_poller_new(void)
{
    hfi_poller_t *p = hfi_calloc(1, sizeof *p);

    if (!p)
        return NULL;
    p->epfd = -1;
#ifdef HAVE_EPOLL_CREATE1
    if (!want_poll() && (p->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        hfi_free(p);
        return NULL;
    }
#else
    (void)want_poll;
#endif
    return p;
}

void hfi_poller_free(hfi_poller_t *p)
{
    if (!p)
        return;
    if (p->epfd >= 0)
        close(p->epfd);
    hfi_free(p->watched);
    hfi_free(p->fds);
    hfi_free(p);
}

const char *hfi_poller_backend(const hfi_poller_t *p)
{
    return p->epfd >= 0 ? "epoll" : "poll";
}

#ifdef HAVE_EPOLL_CREATE1
static int epoll_set(hfi_poller_t *p, int fd, unsigned events)
{
    struct epoll_event ev;
    size_t i = (size_t)fd;

    memset(&ev, 0, sizeof ev);
    ev.data.fd = fd;
    ev.events = ((events & HFI_POLL_IN) ? EPOLLIN : 0u) | ((events & HFI_POLL_OUT) ? EPOLLOUT : 0u);
    if (!events) {
        if (i < p->wcap && p->watched[i]) {
            p->watched[i] = 0;
            /* ENOENT, EBADF: closed without a word (which removed it) */
            (void)epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, &ev);
        }
        return 0;
    }
    if (i >= p->wcap) {
        size_t cap = p->wcap ? p->wcap : 64;
        unsigned char *nw;
        while (cap <= i)
            cap *= 2;
        if ((nw = hfi_realloc(p->watched, cap)) == NULL)
            return HF_ENOMEM;
        memset(nw + p->wcap, 0, cap - p->wcap);
        p->watched = nw;
        p->wcap = cap;
    }
    if (p->watched[i] && epoll_ctl(p->epfd, EPOLL_CTL_MOD, fd, &ev) == 0)
        return 0;
    if ((!p->watched[i] || errno == ENOENT) && epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) == 0) {
        p->watched[i] = 1;
        return 0;
    }
    if (errno == EEXIST && epoll_ctl(p->epfd, EPOLL_CTL_MOD, fd, &ev) == 0) {
        p->watched[i] = 1;  /* there after all (a duplicate of a closed descriptor) */
        return 0;
    }
    return errno == ENOMEM ? HF_ENOMEM : HF_EIO;
}

static int epoll_wait_some(hfi_poller_t *p, int timeout_ms, hfi_pollev_t *out, int max)
{
    struct epoll_event evs[64];
    int n;

    if (max > 64)
        max = 64;
    if ((n = epoll_wait(p->epfd, evs, max, timeout_ms)) < 0)
        return errno == EINTR ? 0 : HF_EIO;
    for (int i = 0; i < n; i++) {
        out[i].fd = evs[i].data.fd;
        out[i].events = ((evs[i].events & EPOLLIN) ? HFI_POLL_IN : 0u) |
                        ((evs[i].events & EPOLLOUT) ? HFI_POLL_OUT : 0u) |
                        ((evs[i].events & (EPOLLERR | EPOLLHUP)) ? HFI_POLL_ERR : 0u);
    }
    return n;
}
#endif

static int poll_set(hfi_poller_t *p, int fd, unsigned events)
{
    short want = (short)(((events & HFI_POLL_IN) ? POLLIN : 0) | ((events & HFI_POLL_OUT) ? POLLOUT : 0));
    nfds_t i;

    for (i = 0; i < p->n && p->fds[i].fd != fd; i++)
        ;
    if (!events) {
        if (i < p->n)
            p->fds[i] = p->fds[--p->n];
        return 0;
    }
    if (i == p->n) {
        if (p->n == p->cap) {
            nfds_t cap = p->cap ? p->cap * 2 : 16;
            struct pollfd *nf = hfi_realloc(p->fds, cap * sizeof *nf);
            if (!nf)
                return HF_ENOMEM;
            p->fds = nf;
            p->cap = cap;
        }
        p->fds[p->n++].fd = fd;
    }
    p->fds[i].events = want;
    p->fds[i].revents = 0;
    return 0;
}

static int poll_wait_some(hfi_poller_t *p, int timeout_ms, hfi_pollev_t *out, int max)
{
    int n, k = 0;

    if ((n = poll(p->fds, p->n, timeout_ms)) < 0)
        return errno == EINTR ? 0 : HF_EIO;
    for (nfds_t i = 0; i < p->n && n > 0 && k < max; i++) {
        short r = p->fds[i].revents;
        if (!r)
            continue;
        n--;
        out[k].fd = p->fds[i].fd;
        out[k].events = ((r & POLLIN) ? HFI_POLL_IN : 0u) | ((r & POLLOUT) ? HFI_POLL_OUT : 0u) |
                        ((r & (POLLERR | POLLHUP | POLLNVAL)) ? HFI_POLL_ERR : 0u);
        k++;
    }
    return k;
}

int hfi_poller_set(hfi_poller_t *p, int fd, unsigned events)
{
    if (fd < 0)
        return HF_EINVAL;
#ifdef HAVE_EPOLL_CREATE1
    if (p->epfd >= 0)
        return epoll_set(p, fd, events);
#endif
    return poll_set(p, fd, events);
}

int hfi_poller_wait(hfi_poller_t *p, int timeout_ms, hfi_pollev_t *out, int max)
{
    if (max <= 0)
        return 0;
#ifdef HAVE_EPOLL_CREATE1
    if (p->epfd >= 0)
        return epoll_wait_some(p, timeout_ms, out, max);
#endif
    return poll_wait_some(p, timeout_ms, out, max);
}
