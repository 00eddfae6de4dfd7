/*
 * hf/error.h - the one error convention of hfasync.
 *
 * Every fallible function returns 0 on success or a negative HF_E* code; functions that
 * return an object return NULL on failure. Where the caller needs more than a code (an
 * HTTP status, a file name, a byte offset), the function fills an hf_error_t. Messages
 * never contain an access token.
 */
#ifndef HF_ERROR_H
#define HF_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define HF_API __attribute__((visibility("default")))
#define HF_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define HF_API
#define HF_PRINTF(fmt, args)
#endif

/* Error codes. All negative; 0 is success. Stable: values never change once released. */
enum {
    HF_OK = 0,
    HF_EINVAL = -1,       /* an argument is NULL, out of range or malformed */
    HF_ENOMEM = -2,       /* memory is short; nothing was changed */
    HF_ETIMEDOUT = -3,    /* a wait or a timeout expired */
    HF_ECANCELED = -4,    /* the operation was cancelled (or its runtime shut down) */
    HF_EDEADLK = -5,      /* waiting (or adopting) here could never end */
    HF_ESTATE = -6,       /* wrong state: settled twice, used after shutdown, ... */
    HF_EBROKEN = -7,      /* a promise was freed (or a callback returned) without settling */
    HF_EPROTO = -8,       /* the server answered something the protocol does not allow */
    HF_ECORRUPT = -9,     /* downloaded bytes do not match their hash or size */
    HF_EIO = -10,         /* a local file system operation failed */
    HF_ENOENT = -11,      /* not found (file, repo, revision, cache entry, input) */
    HF_EAUTH = -12,       /* authentication needed or refused (401/403) */
    HF_ENETWORK = -13,    /* connection, DNS, TLS or transfer failure */
    HF_EREPO_NOT_FOUND = -14,     /* X-Error-Code: RepoNotFound */
    HF_EREVISION_NOT_FOUND = -15, /* X-Error-Code: RevisionNotFound */
    HF_EENTRY_NOT_FOUND = -16,    /* X-Error-Code: EntryNotFound */
    HF_EGATED = -17,              /* X-Error-Code: GatedRepo (accept the terms, use a token) */
    HF_EFORMAT = -18,     /* a file (GGUF, safetensors, JSON) is malformed */
    HF_EUNSUPPORTED = -19,/* valid but not supported (a format version, a dtype) */
    HF_EOFFLINE = -20,    /* offline mode and the answer is not in the cache */
    HF_ETLS = -21         /* the server's TLS certificate is not trusted (unknown CA, wrong
                             host name, expired) or the CA file is unreadable: not retried */
};

/* The lowest (most negative) code in use; codes below it are unknown. */
#define HF_ERR_MIN HF_ETLS

typedef struct hf_error {
    int  code;                  /* negative HF_E* */
    int  http_status;           /* 0 if none */
    char message[256];          /* NUL-terminated, never holds a token */
} hf_error_t;

/*
 * hf_strerror - a short, static, English name for `code` ("invalid argument").
 *
 * Never NULL: unknown codes give "unknown error". 0 gives "success".
 */
HF_API const char *hf_strerror(int code);

/*
 * hf_error_set - fill `err` (if not NULL) with `code`, `http_status` and a formatted
 * message, truncated to fit (a NULL `fmt` leaves the message empty). The arguments may
 * point into `err` itself: `hf_error_set(err, HF_EIO, 0, "reading %s: %s", name,
 * err->message)` adds context to the message it replaces.
 *
 * Returns `code`, so that `return hf_error_set(err, HF_EINVAL, 0, "bad %s", what);` works.
 */
HF_API int hf_error_set(hf_error_t *err, int code, int http_status, const char *fmt, ...)
    HF_PRINTF(4, 5);

#ifdef __cplusplus
}
#endif

#endif /* HF_ERROR_H */
