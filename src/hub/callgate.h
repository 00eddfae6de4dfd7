/*
 * callgate.h - progress callbacks called one at a time, with no lock held while they run,
 * and a way for a requester that stops listening to wait out a call of its callback.
 *
 * A gate belongs to an owner (a shared blob download, one file's download) that keeps its
 * listeners under the gate's mutex `mu`. One thread at a time is the gate's caller: it
 * opens the gate, calls listeners one by one through hfi_callgate_call (which releases
 * `mu` for the call), and closes it. A requester that stops listening marks its listener
 * gone under `mu`, then drains: it waits until that listener is not being called. So once
 * a requester has left, its callback never runs again, and yet no lock is held across a
 * callback, which may itself cancel (and so leave) any call, its own included.
 *
 * Waits that would never end are not entered. Every thread waiting in a drain or in an
 * open with `wait` waits for one thread, the gate's caller; a process-wide wait-for graph
 * (callgate.c) holds those edges, and a thread about to wait first follows the chain from
 * the thread it would wait for. If the chain comes back to it (a callback that cancels
 * another call while that call's callback, under way on another thread, cancels the first,
 * or a longer ring of the same kind), it does not wait: of the threads that close such a
 * ring, exactly one, the last to enter its wait, goes on. Its drain then returns while the
 * listener is still being called; that call does not return before the thread that skipped
 * has returned from the callback it is in (the call waits on it), and the listener, marked
 * gone, is never called again. hub.h states this for users.
 */
#ifndef HFI_CALLGATE_H
#define HFI_CALLGATE_H

#include <pthread.h>
#include <stddef.h>

#include "hf/hub.h"

#define HFI_GATE_NONE ((size_t)-1)

typedef struct hfi_callgate {
    pthread_mutex_t mu;         /* the gate's state and the owner's listeners */
    pthread_cond_t cv;          /* a call or a turn as caller ended */
    int active;                 /* a thread is the caller (between open and close) */
    pthread_t caller;
    size_t calling;             /* the owner's number of the listener being called */
    unsigned waiters;           /* threads in the wait-for graph waiting on this gate */
} hfi_callgate_t;

void hfi_callgate_init(hfi_callgate_t *g);
void hfi_callgate_destroy(hfi_callgate_t *g);

/*
 * hfi_callgate_open - with `mu` held, become the caller. Returns 1 if this thread now is,
 * 0 if not: this thread is the caller already (a report from inside a callback), or another
 * thread is and `wait` is 0 (a routine report is simply skipped). With `wait`, waits for the
 * other caller to close the gate (a final report must be delivered), unless that caller
 * waits, directly or along a chain of such waits, for this thread: then returns 0 without
 * waiting (the report is not delivered), as the wait would never end.
 */
int hfi_callgate_open(hfi_callgate_t *g, int wait);

/* With `mu` held, as the caller: call fn(p, arg) as listener `who`, `mu` released meanwhile. */
void hfi_callgate_call(hfi_callgate_t *g, size_t who, hf_progress_fn fn,
                       const hf_progress_t *p, void *arg);

/* With `mu` held, as the caller: stop being the caller. */
void hfi_callgate_close(hfi_callgate_t *g);

/*
 * hfi_callgate_drain - with `mu` held, after listener `who` was marked gone: wait until it
 * is not being called. Returns at once when this thread is the one calling it (a callback
 * that cancels its own call), and without waiting when the caller waits, directly or along
 * a chain of drains and opens, for this thread (two callbacks that cancel each other's
 * calls): that call of `who` is then still under way, and ends only after this thread has
 * returned from its own callback.
 */
void hfi_callgate_drain(hfi_callgate_t *g, size_t who);

#endif /* HFI_CALLGATE_H */
