/*
 * ferror.c - error messages of the format readers.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "formats/ferror.h"

int hfi_ferr(hf_error_t *err, int code, const char *file, const char *fmt, ...)
{
    va_list ap;
    size_t used = 0;

    if (!err)
        return code;
    err->code = code;
    err->http_status = 0;
    err->message[0] = '\0';
    if (file && *file) {
        int n = snprintf(err->message, sizeof err->message, "%s: ", file);
        used = n < 0 ? 0 : (size_t)n;
        if (used >= sizeof err->message)
            return code;
    }
    va_start(ap, fmt);
    vsnprintf(err->message + used, sizeof err->message - used, fmt, ap);
    va_end(ap);
    return code;
}

const char *hfi_basename(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}
