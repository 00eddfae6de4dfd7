/*
 * hub_impl.h - the hub object, shared by the files of src/hub.
 */
#ifndef HFI_HUB_IMPL_H
#define HFI_HUB_IMPL_H

#include <pthread.h>

#include "hf/hub.h"
#include "hub/engine.h"

struct hf_hub {
    hf_runtime_t *rt;
    char *endpoint;             /* scheme://host[:port][/path], no trailing '/' */
    char *origin;               /* scheme://host:port of the endpoint (for same-origin tests) */
    char *cache_dir;
    char *token;                /* NULL: none. Never printed. */
    char *auth_header;          /* "Authorization: Bearer <token>" or NULL */
    char *ca_file;
    char *user_agent;
    int offline;
    int copy_instead_of_link;
    unsigned etag_timeout_ms, download_timeout_ms, max_retries, backoff_ms;
    uint64_t parallel_threshold;
    unsigned conns_per_file, conns_total, engine_threads;
    hfi_engine_t *engine;

    pthread_mutex_t mu;         /* in-flight blob downloads (dedup) and stats */
    struct hfi_blob *inflight;  /* blob downloads under way, under mu */
    uint64_t blobs_committed, downloads_shared, retries;
};

/* config.c: fill the settings from `cfg` and the environment. */
int hfi_hub_configure(hf_hub_t *hub, const hf_hub_config_t *cfg, hf_error_t *err);
void hfi_hub_unconfigure(hf_hub_t *hub);

/* "scheme://host:port" of a URL (malloc'd), the port made explicit; NULL if not http(s). */
char *hfi_url_origin(const char *url);
/* 1 if `url` has the same origin as the hub's endpoint. */
int hfi_same_origin(const hf_hub_t *hub, const char *url);

#endif /* HFI_HUB_IMPL_H */
