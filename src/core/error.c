/*
 * error.c - names of the error codes, and filling an hf_error_t.
 *
 * Design notes
 *  - a message is formatted into a buffer of its own, then copied: the arguments may
 *    point into the very message being replaced (adding context to an error), which
 *    vsnprintf into err->message would read while writing it.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/errfmt.h"

const char *hf_strerror(int code)
{
    switch (code) {
    case HF_OK: return "success";
    case HF_EINVAL: return "invalid argument";
    case HF_ENOMEM: return "out of memory";
    case HF_ETIMEDOUT: return "timed out";
    case HF_ECANCELED: return "cancelled";
    case HF_EDEADLK: return "waiting here would never end";
    case HF_ESTATE: return "wrong state (already settled or shut down)";
    case HF_EBROKEN: return "broken promise";
    case HF_EPROTO: return "protocol error";
    case HF_ECORRUPT: return "data corrupt (hash or size mismatch)";
    case HF_EIO: return "local I/O error";
    case HF_ENOENT: return "not found";
    case HF_EAUTH: return "authentication required or refused";
    case HF_ENETWORK: return "network error";
    case HF_EREPO_NOT_FOUND: return "repository not found";
    case HF_EREVISION_NOT_FOUND: return "revision not found";
    case HF_EENTRY_NOT_FOUND: return "file not found in repository";
    case HF_EGATED: return "gated repository: access must be requested";
    case HF_EFORMAT: return "malformed file";
    case HF_EUNSUPPORTED: return "unsupported";
    case HF_EOFFLINE: return "offline and not in the cache";
    case HF_ETLS: return "TLS certificate not trusted";
    default: return "unknown error";
    }
}

int hfi_error_vset(hf_error_t *err, int code, int http_status, const char *fmt, va_list ap)
{
    if (err) {
        char buf[sizeof err->message];

        buf[0] = '\0';
        if (fmt)
            vsnprintf(buf, sizeof buf, fmt, ap);
        err->code = code;
        err->http_status = http_status;
        memcpy(err->message, buf, strlen(buf) + 1);
    }
    return code;
}

int hf_error_set(hf_error_t *err, int code, int http_status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hfi_error_vset(err, code, http_status, fmt, ap);
    va_end(ap);
    return code;
}
