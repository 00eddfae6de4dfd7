/*
 * mockhub.h - run tools/mock-hub/hf-mock-hub on ephemeral loopback ports for a test, build
 * repos for it to serve, set its faults and read its counters.
 */
#ifndef HF_TEST_MOCKHUB_H
#define HF_TEST_MOCKHUB_H

#include <stddef.h>
#include <sys/types.h>

#include "hfasync.h"

typedef struct tu_mock {
    pid_t pid;
    char root[256];             /* the folder it serves (made by tu_mock_root) */
    char hub[128];              /* http://127.0.0.1:PORT */
    char cdn[128];
} tu_mock_t;

/* A fresh temporary root folder for repos (removed by tu_mock_stop). */
void tu_mock_root(tu_mock_t *m);
/* Write `len` bytes of `data` at ROOT/<type>s/<repo>/<path> (folders made as needed). */
void tu_mock_file(tu_mock_t *m, const char *type, const char *repo, const char *path,
                  const void *data, size_t len);
/* Write ROOT/<type>s/<repo>/.mockhub.json with `json`. */
void tu_mock_settings(tu_mock_t *m, const char *type, const char *repo, const char *json);
/* Write the model fixtures (tools/hf-fixtures ROOT --scale N) into m->root. */
void tu_mock_fixtures(tu_mock_t *m, unsigned scale);
/* Start the server over m->root (extra command-line arguments may be NULL); fails the
 * test if it does not print its "listening" line. */
void tu_mock_start(tu_mock_t *m, const char *extra_args);
/* SIGTERM, wait, remove the root. */
void tu_mock_stop(tu_mock_t *m);

/* A hub on `rt` for `endpoint` (the mock's m->hub, or a relay in front of it), with
 * cache folder `cache` and `token` (NULL: from the environment, "": none), online;
 * `extra` (may be NULL) gives the other settings, and a retry backoff of 10 ms when it
 * sets none. Fails the test if the hub cannot be made. */
hf_hub_t *tu_hub_at(hf_runtime_t *rt, const char *endpoint, const char *cache,
                    const char *token, const hf_hub_config_t *extra);

/* An HTTP request to the mock with libcurl (body may be NULL); returns the response body
 * (malloc'd, NUL-terminated) and sets *status. */
char *tu_http(const char *method, const char *url, const char *body, long *status);
/* POST /_mock/faults with `json`; POST /_mock/reset. */
void tu_mock_fault(tu_mock_t *m, const char *json);
void tu_mock_reset(tu_mock_t *m);
/* The count of requests with `method` whose path ends with `path_suffix`, from
 * GET /_mock/stats (both ports). */
long tu_mock_count(tu_mock_t *m, const char *method, const char *path_suffix);
/* GET /_mock/requests?<query> (malloc'd JSON). */
char *tu_mock_requests(tu_mock_t *m, const char *query);
/* The whole /_mock/stats document (malloc'd). */
char *tu_mock_stats(tu_mock_t *m);

#endif /* HF_TEST_MOCKHUB_H */
