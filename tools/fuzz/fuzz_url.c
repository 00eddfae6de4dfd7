/*
 * fuzz_url.c - hfi_url_origin (the same-origin test behind credential forwarding) on
 * arbitrary text (the input, cut at its first NUL).
 *
 * Checks: an origin is given only for http:// and https:// URLs (the scheme in any case)
 * without credentials; it is "scheme://host:port" with the URL's scheme in lower case,
 * the URL's host (its authority up to the first '/', '?' or '#') and an explicit port (80
 * or 443 when the URL has none); it holds no '@', '/', '?' or '#' after the scheme; and it
 * is its own origin.
 */
#include "config.h"

#include <strings.h>

#include "fuzz.h"

#include "core/alloc.h"
#include "hub/hub_impl.h"

int hfz_url(const uint8_t *data, size_t size)
{
    char *url = hfz_cstr(data, size), *o, *again;
    const char *rest, *ro;
    size_t host_len, olen;
    int https;

    o = hfi_url_origin(url);
    https = strncasecmp(url, "https://", 8) == 0;
    if (!o) {
        free(url);
        return 0;
    }
    HFZ_CHECK(https || strncasecmp(url, "http://", 7) == 0);
    rest = url + (https ? 8 : 7);
    host_len = strcspn(rest, "/?#");
    HFZ_CHECK(host_len > 0 && memchr(rest, '@', host_len) == NULL);
    HFZ_CHECK(strncmp(o, https ? "https://" : "http://", https ? 8 : 7) == 0);
    ro = o + (https ? 8 : 7);
    olen = strlen(ro);
    HFZ_CHECK(strcspn(ro, "@/?#") == olen);
    /* the URL's authority, with the default port added when it has none */
    HFZ_CHECK(olen >= host_len && memcmp(ro, rest, host_len) == 0);
    HFZ_CHECK(olen == host_len || strcmp(ro + host_len, https ? ":443" : ":80") == 0);
    /* an origin is its own origin */
    again = hfi_url_origin(o);
    HFZ_CHECK(again != NULL && strcmp(again, o) == 0);
    hfi_free(again);
    hfi_free(o);
    free(url);
    return 0;
}

HFZ_ENTRY(hfz_url)
