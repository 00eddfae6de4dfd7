/*
 * config.c - a hub's settings: the caller's configuration, else the environment variables
 * the official clients read, else their defaults.
 *
 * Design notes
 *  - precedence per setting: hf_hub_config_t field, then environment, then default;
 *  - the token comes from the config, $HF_TOKEN (or, if that is unset or empty,
 *    $HUGGING_FACE_HUB_TOKEN), then the token file ($HF_TOKEN_PATH, else $HF_HOME/token),
 *    as huggingface_hub's get_token(); it is stripped of whitespace, and one left empty
 *    counts as none (a blank $HF_TOKEN leaves the file in force), and
 *    $HF_HUB_DISABLE_IMPLICIT_TOKEN keeps all but the config's away. It is kept only in
 *    `token` and `auth_header`, never formatted into a message;
 *  - booleans are true for 1, ON, YES, TRUE (any case), as in huggingface_hub; offline
 *    is $HF_HUB_OFFLINE, or $TRANSFORMERS_OFFLINE when that is unset or empty (so
 *    HF_HUB_OFFLINE=0 overrides TRANSFORMERS_OFFLINE=1, as there);
 *  - the cache folder: "~/" is $HOME, else the user's home in the password database (as
 *    Python's expanduser), and a relative one (config or variable) is taken
 *    from the current folder once, when the hub is made, so that every path the hub
 *    hands back is absolute and stays right if the program changes folder later;
 *  - the CA file: the config's ca_file, else $REQUESTS_CA_BUNDLE, $CURL_CA_BUNDLE,
 *    $SSL_CERT_FILE (the variables requests, curl and OpenSSL/httpx read), else the
 *    system's CAs. An empty variable is ignored: unlike old requests, an empty
 *    CURL_CA_BUNDLE never turns verification off. Nothing turns it off.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pwd.h>
#include <unistd.h>

#include "core/alloc.h"
#include "hub/hub_impl.h"
#include "hub/names.h"

static int is_true(const char *v)
{
    return v && (strcasecmp(v, "1") == 0 || strcasecmp(v, "on") == 0 ||
                 strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0);
}

static int env_true(const char *name)
{
    return is_true(getenv(name));
}

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* Seconds from the environment (may be fractional), as milliseconds; `def` if unset/bad. */
static unsigned env_ms(const char *name, unsigned def)
{
    const char *v = env_nonempty(name);
    char *end;
    double d;
    if (!v)
        return def;
    d = strtod(v, &end);
    if (end == v || *end != '\0' || !(d > 0) || d > 86400)
        return def;
    return (unsigned)(d * 1000.0 + 0.5);
}

/* The user's home folder (hfi_malloc'd): $HOME, else the password database's entry for
 * the real user (as Python's os.path.expanduser), else NULL. */
static char *home_dir(void)
{
    const char *v = env_nonempty("HOME");
    struct passwd pw, *found = NULL;
    char *buf, *out = NULL;
    long cap = sysconf(_SC_GETPW_R_SIZE_MAX);

    if (v)
        return hfi_strdup(v);
    if (cap <= 0 || cap > (1L << 20))
        cap = 16384;
    if ((buf = hfi_malloc((size_t)cap)) == NULL)
        return NULL;
    if (getpwuid_r(getuid(), &pw, buf, (size_t)cap, &found) == 0 && found && found->pw_dir &&
        found->pw_dir[0])
        out = hfi_strdup(found->pw_dir);
    hfi_free(buf);
    return out;
}

/* Expand a leading "~/" (as the official clients do); left as it is when there is no home
 * folder to be had. */
static char *expand_home(const char *p)
{
    char *home, *out;

    if (p[0] != '~' || (p[1] != '/' && p[1] != '\0') || (home = home_dir()) == NULL)
        return hfi_strdup(p);
    out = hfi_strfmt("%s%s", home, p + 1);
    hfi_free(home);
    return out;
}

/* The current folder's relative path `p` (a leading "./" dropped), made absolute
 * (hfi_malloc'd). NULL with errno set when memory is short or the current folder cannot
 * be read. */
static char *from_cwd(const char *p)
{
    char *cwd = NULL, *out = NULL;
    size_t cap = 256;
    int got = 0;

    for (;;) {
        char *n = hfi_realloc(cwd, cap);
        if (!n) {
            errno = ENOMEM;
            break;
        }
        cwd = n;
        if ((got = getcwd(cwd, cap) != NULL) || errno != ERANGE)
            break;
        cap *= 2;
    }
    if (got) {
        while (p[0] == '.' && p[1] == '/')
            for (p += 2; *p == '/'; p++)
                ;
        if (strcmp(p, ".") == 0)
            p = "";
        if ((out = hfi_strfmt("%s%s%s", cwd, cwd[1] && *p ? "/" : "", p)) == NULL)
            errno = ENOMEM;
    }
    hfi_free(cwd);
    return out;
}

/* $HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface. */
static char *hf_home(void)
{
    const char *v;
    char *x, *out;
    if ((v = env_nonempty("HF_HOME")) != NULL)
        return expand_home(v);
    if ((v = env_nonempty("XDG_CACHE_HOME")) != NULL) {
        if ((x = expand_home(v)) == NULL)
            return NULL;
        out = hfi_strfmt("%s/huggingface", x);
        hfi_free(x);
        return out;
    }
    if ((x = home_dir()) == NULL)
        return NULL;
    out = hfi_strfmt("%s/.cache/huggingface", x);
    hfi_free(x);
    return out;
}

static char *strip_token(const char *t)
{
    size_t n;
    char *s;
    while (*t == ' ' || *t == '\t' || *t == '\r' || *t == '\n')
        t++;
    n = strlen(t);
    while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t' || t[n - 1] == '\r' || t[n - 1] == '\n'))
        n--;
    if (n == 0)
        return NULL;
    if ((s = hfi_malloc(n + 1)) == NULL)
        return NULL;
    memcpy(s, t, n);
    s[n] = '\0';
    return s;
}

static char *read_token_file(void)
{
    char *path, buf[512];
    FILE *f;
    size_t n;
    const char *v = env_nonempty("HF_TOKEN_PATH");

    if (v) {
        path = expand_home(v);
    } else {
        char *home = hf_home();
        path = home ? hfi_strfmt("%s/token", home) : NULL;
        hfi_free(home);
    }
    if (!path)
        return NULL;
    f = fopen(path, "r");
    hfi_free(path);
    if (!f)
        return NULL;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strip_token(buf);
}

static char *find_token(const hf_hub_config_t *cfg)
{
    const char *v;
    if (cfg->token)
        return strip_token(cfg->token);
    if (env_true("HF_HUB_DISABLE_IMPLICIT_TOKEN"))
        return NULL;
    /* as get_token(): HF_TOKEN if set and not empty (else HUGGING_FACE_HUB_TOKEN), cleaned;
     * when that leaves nothing, the token file */
    if ((v = env_nonempty("HF_TOKEN")) != NULL ||
        (v = env_nonempty("HUGGING_FACE_HUB_TOKEN")) != NULL) {
        char *t = strip_token(v);
        if (t)
            return t;
    }
    return read_token_file();
}

char *hfi_url_origin(const char *url)
{
    const char *rest, *host_end, *port;
    int https;
    size_t host_len;

    if (strncasecmp(url, "http://", 7) == 0) {     /* a scheme is case-insensitive */
        https = 0;
        rest = url + 7;
    } else if (strncasecmp(url, "https://", 8) == 0) {
        https = 1;
        rest = url + 8;
    } else {
        return NULL;
    }
    host_end = rest + strcspn(rest, "/?#");
    host_len = (size_t)(host_end - rest);
    if (host_len == 0 || memchr(rest, '@', host_len))
        return NULL;            /* no host, or credentials in the URL: refused */
    if (rest[0] == '[') {           /* an IPv6 literal: its port comes after the ']' */
        const char *close = memchr(rest, ']', host_len);
        if (!close)
            return NULL;
        port = memchr(close, ':', host_len - (size_t)(close - rest));
    } else {
        port = memchr(rest, ':', host_len);
    }
    if (port)
        return hfi_strfmt("%s://%.*s", https ? "https" : "http", (int)host_len, rest);
    return hfi_strfmt("%s://%.*s:%d", https ? "https" : "http", (int)host_len, rest,
                      https ? 443 : 80);
}

int hfi_same_origin(const hf_hub_t *hub, const char *url)
{
    char *o = hfi_url_origin(url);
    int same = o && hub->origin && strcasecmp(o, hub->origin) == 0;
    hfi_free(o);
    return same;
}

int hfi_hub_configure(hf_hub_t *hub, const hf_hub_config_t *cfg, hf_error_t *err)
{
    const char *v;
    size_t n;

    /* endpoint */
    v = cfg->endpoint ? cfg->endpoint : env_nonempty("HF_ENDPOINT");
    hub->endpoint = hfi_strdup(v ? v : "https://huggingface.co");
    if (!hub->endpoint)
        return hf_error_set(err, HF_ENOMEM, 0, "out of memory");
    n = strlen(hub->endpoint);
    while (n > 0 && hub->endpoint[n - 1] == '/')
        hub->endpoint[--n] = '\0';
    if ((hub->origin = hfi_url_origin(hub->endpoint)) == NULL)   /* never echo credentials */
        return hf_error_set(err, HF_EINVAL, 0, "endpoint must be an http(s) URL without "
                            "credentials: %s", strchr(hub->endpoint, '@') ? "(not shown: it "
                            "holds an '@')" : hub->endpoint);

    /* cache */
    if (cfg->cache_dir) {
        hub->cache_dir = expand_home(cfg->cache_dir);
    } else if ((v = env_nonempty("HF_HUB_CACHE")) || (v = env_nonempty("HUGGINGFACE_HUB_CACHE"))) {
        hub->cache_dir = expand_home(v);
    } else {
        char *home = hf_home();
        if (!home)      /* short memory, or no $HOME and no password entry */
            return hf_error_set(err, HF_EINVAL, 0, "no cache folder: set HF_HUB_CACHE or "
                                "HF_HOME (HOME is not set, and the user has no home folder)");
        hub->cache_dir = home ? hfi_strfmt("%s/hub", home) : NULL;
        hfi_free(home);
    }
    if (!hub->cache_dir)
        return hf_error_set(err, HF_ENOMEM, 0, "out of memory");
    if (hub->cache_dir[0] != '/') {
        char *abs = from_cwd(hub->cache_dir);
        if (!abs)
            return hf_error_set(err, errno == ENOMEM ? HF_ENOMEM : HF_EIO, 0,
                                "cannot take the cache folder \"%s\" from the current "
                                "folder: %s", hub->cache_dir, strerror(errno));
        hfi_free(hub->cache_dir);
        hub->cache_dir = abs;
    }
    n = strlen(hub->cache_dir);
    while (n > 1 && hub->cache_dir[n - 1] == '/')
        hub->cache_dir[--n] = '\0';

    /* token */
    hub->token = find_token(cfg);
    if (hub->token) {
        if (strpbrk(hub->token, "\r\n"))
            return hf_error_set(err, HF_EINVAL, 0, "the token has a line break in it");
        hub->auth_header = hfi_strfmt("Authorization: Bearer %s", hub->token);
        if (!hub->auth_header)
            return hf_error_set(err, HF_ENOMEM, 0, "out of memory");
    }

    /* as huggingface_hub: TRANSFORMERS_OFFLINE only if HF_HUB_OFFLINE is unset or empty */
    if ((v = env_nonempty("HF_HUB_OFFLINE")) == NULL)
        v = getenv("TRANSFORMERS_OFFLINE");
    hub->offline = cfg->offline == HF_YES || (cfg->offline == HF_FROM_ENV && is_true(v));
    hub->copy_instead_of_link = cfg->disable_symlinks == HF_YES ||
                                (cfg->disable_symlinks == HF_FROM_ENV &&
                                 env_true("HF_HUB_DISABLE_SYMLINKS"));
    hub->fsync_blobs = cfg->fsync_blobs == HF_YES ||
                       (cfg->fsync_blobs == HF_FROM_ENV && env_true("HFASYNC_FSYNC_BLOBS"));
    hub->etag_timeout_ms = cfg->etag_timeout_ms ? cfg->etag_timeout_ms
                                                : env_ms("HF_HUB_ETAG_TIMEOUT", 10000);
    hub->download_timeout_ms = cfg->download_timeout_ms
                                   ? cfg->download_timeout_ms
                                   : env_ms("HF_HUB_DOWNLOAD_TIMEOUT", 10000);
    hub->max_retries = cfg->max_retries ? cfg->max_retries : 5;
    hub->backoff_ms = cfg->backoff_ms ? cfg->backoff_ms : 1000;
    hub->max_retry_wait_ms = cfg->max_retry_wait_ms ? cfg->max_retry_wait_ms : 60000;
    hub->parallel_threshold = cfg->parallel_threshold ? cfg->parallel_threshold : 64u << 20;
    hub->conns_per_file = cfg->conns_per_file ? cfg->conns_per_file : 8;
    hub->conns_total = cfg->conns_total ? cfg->conns_total : 128;
    hub->engine_threads = cfg->engine_threads ? cfg->engine_threads : 2;
    if (hub->engine_threads > 4)
        hub->engine_threads = 4;
    v = cfg->ca_file;
    if (!v && !(v = env_nonempty("REQUESTS_CA_BUNDLE")) && !(v = env_nonempty("CURL_CA_BUNDLE")))
        v = env_nonempty("SSL_CERT_FILE");
    if (v && (hub->ca_file = expand_home(v)) == NULL)
        return hf_error_set(err, HF_ENOMEM, 0, "out of memory");
    v = env_nonempty("HF_HUB_USER_AGENT_ORIGIN");
    hub->user_agent = hfi_strfmt("%s%shfasync/%s%s%s", cfg->user_agent ? cfg->user_agent : "",
                                 cfg->user_agent ? "; " : "", PACKAGE_VERSION,
                                 v ? "; origin/" : "", v ? v : "");
    if (!hub->user_agent)
        return hf_error_set(err, HF_ENOMEM, 0, "out of memory");
    return 0;
}

void hfi_hub_unconfigure(hf_hub_t *hub)
{
    if (hub->token)     /* do not leave the secret in freed memory */
        memset(hub->token, 0, strlen(hub->token));
    if (hub->auth_header)
        memset(hub->auth_header, 0, strlen(hub->auth_header));
    hfi_free(hub->endpoint);
    hfi_free(hub->origin);
    hfi_free(hub->cache_dir);
    hfi_free(hub->token);
    hfi_free(hub->auth_header);
    hfi_free(hub->ca_file);
    hfi_free(hub->user_agent);
}
