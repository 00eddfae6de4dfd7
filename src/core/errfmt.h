/*
 * errfmt.h - filling an hf_error_t from a printf format (error.c): one place for what
 * hf_error_set, hf_promise_rejectf and hf_future_rejected all do.
 */
#ifndef HFI_ERRFMT_H
#define HFI_ERRFMT_H

#include <stdarg.h>

#include "hf/error.h"

/* Set `err` (if not NULL) to `code`, `http_status` and the message `fmt` (NULL: empty)
 * formatted with `ap`, cut to fit. Returns `code`. */
int hfi_error_vset(hf_error_t *err, int code, int http_status, const char *fmt, va_list ap)
    HF_PRINTF(4, 0);

#endif /* HFI_ERRFMT_H */
