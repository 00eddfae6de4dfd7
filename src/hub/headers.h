/*
 * headers.h - parsing what the Hub and CDNs answer: ETags, Content-Range, Retry-After,
 * RateLimit, Link, X-Error-Code, redirects and their Location. Pure functions over
 * untrusted text.
 */
#ifndef HFI_HEADERS_H
#define HFI_HEADERS_H

#include <stdint.h>

#include "hf/error.h"

/* Strip an optional W/ and the quotes; the result must be 40 or 64 lowercase hex digits
 * (uppercase is lowered). Returns 0 or HF_EPROTO. */
int hfi_etag_normalize(const char *raw, char out[65]);

/* A size header (X-Linked-Size, Content-Length): decimal digits only, no sign or space,
 * at most UINT64_MAX. Returns 0 or HF_EPROTO. */
int hfi_parse_size(const char *v, uint64_t *out);

/* "bytes a-b/total" (total may be "*": *total = UINT64_MAX). Returns 0 or HF_EPROTO. */
int hfi_parse_content_range(const char *v, uint64_t *first, uint64_t *last, uint64_t *total);

/* Retry-After in delta-seconds form. Returns seconds, or -1 if absent or not a number. */
long hfi_parse_retry_after(const char *v);

/* The t= (seconds to reset) of a RateLimit header ("name";r=0;t=55). -1 if absent. */
long hfi_parse_ratelimit_reset(const char *v);

/* The URL of the rel="next" link in a Link header (rel's list of relation types may be
 * quoted, hold several types, use any case), as a new string in *out (NULL `out`: only
 * tell whether there is one), however long: the header's own limit is the only one.
 * Returns 0, HF_ENOENT when there is none, HF_EPROTO when malformed (an unclosed '<', an
 * empty target), HF_ENOMEM. *out is NULL unless 0 is returned. */
int hfi_parse_link_next(const char *v, char **out);

/* Copy the server's text `v` (X-Error-Message; NULL: "") into out[cap] (cap > 0), cut to
 * fit, as printable ASCII: every other byte (controls such as ESC and BEL, DEL, and any
 * byte >= 0x80, so no C1 control either) becomes '?', so that a hostile server cannot put
 * terminal escapes into our messages, which hf-fetch prints. Returns `out`. */
char *hfi_header_text(const char *v, char *out, size_t cap);

/* Map an HTTP status and X-Error-Code to an HF_E* code. */
int hfi_http_error_code(long status, const char *x_error_code);

/* 1 for the codes of the Hub's own answer about the repo, the revision, the file or the
 * token (RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo, 401/403): a cached copy
 * does not override them. 0 for what only kept the Hub from answering (network, timeouts,
 * 5xx and 429 after retries, an answer that is not the Hub's), where the cache answers. */
int hfi_hub_refusal(int code);

/* 1 for statuses worth retrying (408, 429, 500, 502, 503, 504). */
int hfi_http_retryable(long status);

/* 1 for the redirects a GET follows to its Location (301, 302, 303, 307, 308). */
int hfi_http_redirect(long status);

/*
 * Resolve a Location `ref` against the URL that was asked, `base` (an absolute http(s)
 * URL), as RFC 3986 section 5.2 says: absolute ("https://h/p"), scheme-relative ("//h/p"),
 * absolute-path ("/p"), relative ("p", "../p", "?q") references; dot segments removed, the
 * scheme lowered, the fragment dropped. The target must be an http or https URL with a host
 * and no user info; a reference with spaces, control characters or backslashes is refused.
 * Returns 0 with *out (hfi_malloc'd, hfi_free it), HF_EPROTO (refused: *out untouched) or
 * HF_ENOMEM.
 */
int hfi_url_resolve(const char *base, const char *ref, char **out);

#endif /* HFI_HEADERS_H */
