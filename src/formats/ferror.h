/*
 * ferror.h - error messages of the format readers: "<file>: <what>".
 */
#ifndef HF_FORMATS_FERROR_H
#define HF_FORMATS_FERROR_H

#include "hf/error.h"

/*
 * hfi_ferr - fill `err` (if not NULL) with `code` and the message "<file>: <fmt...>", or
 * just "<fmt...>" when `file` is NULL or empty; truncated to fit. Returns `code`.
 * (The formats layer fills hf_error_t itself: it does not link against the core runtime.)
 */
int hfi_ferr(hf_error_t *err, int code, const char *file, const char *fmt, ...)
    HF_PRINTF(4, 5);

/* hfi_basename - the part of `path` after its last '/'. */
const char *hfi_basename(const char *path);

#endif /* HF_FORMATS_FERROR_H */
