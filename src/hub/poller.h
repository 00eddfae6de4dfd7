/*
 * poller.h - readiness of a set of file descriptors, for the transfer engine's loops.
 *
 * epoll where configure found it (the cost of a wait does not grow with the number of
 * sockets watched), poll() everywhere else. HFASYNC_POLLER=poll in the environment picks
 * poll() on a system that has epoll too, so that the fallback is tested where CI runs.
 * One thread owns a poller: nothing here locks.
 */
#ifndef HFI_POLLER_H
#define HFI_POLLER_H

enum { HFI_POLL_IN = 1, HFI_POLL_OUT = 2, HFI_POLL_ERR = 4 };

typedef struct hfi_poller hfi_poller_t;

typedef struct hfi_pollev {
    int fd;
    unsigned events;            /* HFI_POLL_* that happened (ERR covers hang-ups too) */
} hfi_pollev_t;

/* A new poller, or NULL (memory or descriptors short). */
hfi_poller_t *hfi_poller_new(void);
void hfi_poller_free(hfi_poller_t *p);

/* "epoll" or "poll": which backend `p` uses. */
const char *hfi_poller_backend(const hfi_poller_t *p);

/*
 * hfi_poller_set - watch `fd` for `events` (HFI_POLL_IN | HFI_POLL_OUT), replacing what it
 * was watched for; 0 stops watching it (no system call at all if it was not watched: a
 * caller that closes a descriptor stops watching it first, so that a late request to stop
 * watching that number never touches a descriptor another thread may have been given).
 * Returns 0 or HF_EINVAL (fd < 0) / HF_ENOMEM / HF_EIO.
 */
int hfi_poller_set(hfi_poller_t *p, int fd, unsigned events);

/*
 * hfi_poller_wait - wait up to `timeout_ms` (0: do not wait, -1: no limit) until a watched
 * descriptor is ready; fill at most `max` entries of `out`. Returns how many (0 on
 * timeout or when interrupted by a signal), or HF_EIO.
 */
int hfi_poller_wait(hfi_poller_t *p, int timeout_ms, hfi_pollev_t *out, int max);

#endif /* HFI_POLLER_H */
