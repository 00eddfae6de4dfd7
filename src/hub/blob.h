/*
 * blob.h - downloading one blob into the cache, shared by every request for it.
 */
#ifndef HFI_BLOB_H
#define HFI_BLOB_H

#include "hub/cache.h"
#include "hub/hub_impl.h"

typedef struct hfi_blob hfi_blob_t;

/* Where the bytes come from and what they must hash to. */
typedef struct hfi_blob_req {
    const hfi_cache_loc_t *loc;
    const char *etag;           /* normalised: 40 or 64 hex */
    uint64_t size;
    const char *url;            /* the final URL (the CDN's for LFS files) */
    const char *resolve_url;    /* the Hub URL that redirected to it, asked again for a
                                   newly signed one when the CDN says 403 (NULL: none) */
    const char *repo_id, *path; /* for progress and messages (the progress events of this
                                   request name its own; kept until it leaves) */
    hf_progress_fn progress;
    void *progress_arg;
    int force;                  /* fetch it even if blobs/<etag> is there: the new file is
                                   renamed over the old one, which stays until then */
} hfi_blob_req_t;

/*
 * Join the download of `req`'s blob, starting it if no request in this process is already
 * fetching it at `req->size`. One under way at another size (two sizes for one etag) is
 * waited for first; then, if blobs/<etag> is there, hashes right and has that other size,
 * `req`'s size is the wrong one and its download fails with HF_EPROTO, naming both sizes,
 * without a request. `*done` receives a future that settles when blobs/<etag> is committed
 * (fulfilled, value NULL) or failed. Returns the handle to leave with, or NULL (memory).
 */
hfi_blob_t *hfi_blob_join(hf_hub_t *hub, const hfi_blob_req_t *req, hf_future_t **done);
/* A requester no longer wants it; the last one to leave cancels the download. Its
 * progress callback (`progress`, `progress_arg`: what it joined with) is removed first:
 * once this returns, it is never called again. */
void hfi_blob_leave(hfi_blob_t *b, hf_progress_fn progress, void *progress_arg);

#endif /* HFI_BLOB_H */
