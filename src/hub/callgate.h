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
 * The one cycle left is a callback that cancels another call while that call's callback,
 * under way on another thread, cancels the first: each drain waits for the other's
 * callback to return. hub.h states it as a rule for callbacks.
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
} hfi_callgate_t;

void hfi_callgate_init(hfi_callgate_t *g);
void hfi_callgate_destroy(hfi_callgate_t *g);

/*
 * hfi_callgate_open - with `mu` held, become the caller. Returns 1 if this thread now is,
 * 0 if not: this thread is the caller already (a report from inside a callback), or another
 * thread is and `wait` is 0 (a routine report is simply skipped). With `wait`, waits for the
 * other caller to close the gate (a final report must be delivered).
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
 * that cancels its own call).
 */
void hfi_callgate_drain(hfi_callgate_t *g, size_t who);

#endif /* HFI_CALLGATE_H */
