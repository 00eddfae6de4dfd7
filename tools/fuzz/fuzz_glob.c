/*
 * fuzz_glob.c - hfi_glob_match on a pattern and a name: the input split at its first NUL
 * (pattern before, name after; no NUL: the whole input is the pattern, the name empty).
 *
 * Checks the matcher against a reference: a memoised recursive matcher written from
 * Python's fnmatch rules, which huggingface_hub applies to allow/ignore patterns after
 * adding "*" to a pattern that ends in '/' ('*' any run of characters, '/' included; '?'
 * one character; [abc], [a-z], [!abc] sets with a leading ']' a member that may start a
 * range; '^' an ordinary member; an unclosed '[' an ordinary character), after reading each '\' of the pattern
 * as '/' (huggingface_hub normalises the separators of patterns, never of names). A
 * pattern ending in '/' must also leave something below the folder (the name "dir/"
 * itself is no file inside it). The reference works on bytes, so the comparison is made
 * for ASCII inputs up to 256 bytes each (the matcher's UTF-8 characters are check_glob's
 * business); any input must simply return. A pattern without metacharacters matches
 * exactly the name equal to it (its '\' read as '/').
 */
#include "config.h"

#include "fuzz.h"

#include "hub/glob.h"

#define REF_MAX 256

typedef struct ref {
    const char *p, *n;
    size_t plen, nlen;
    signed char memo[REF_MAX + 3][REF_MAX + 1];     /* -1 unknown, 0, 1 */
} ref_t;

/* The set at p[i] == '[': its end (after ']') and whether c is in it; 0 if unclosed. A
 * ']' right after "[" or "[!" is a member and may start a range, as in Python's fnmatch;
 * a range whose ends are the wrong way round holds nothing. */
static size_t ref_set(const ref_t *r, size_t i, char c, int *hit)
{
    size_t j = i + 1;
    int negate = 0, in = 0, first = 1;

    if (j < r->plen && r->p[j] == '!') {
        negate = 1;
        j++;
    }
    while (j < r->plen && (r->p[j] != ']' || first)) {
        first = 0;
        if (j + 2 < r->plen && r->p[j + 1] == '-' && r->p[j + 2] != ']') {
            in |= c >= r->p[j] && c <= r->p[j + 2];
            j += 3;
        } else {
            in |= c == r->p[j];
            j++;
        }
    }
    if (j >= r->plen)
        return 0;
    *hit = in ^ negate;
    return j + 1;
}

/* Whether p[i..] matches n[k..]. */
static int ref_match(ref_t *r, size_t i, size_t k)
{
    int m, hit = 0;
    size_t after;

    if (r->memo[i][k] >= 0)
        return r->memo[i][k];
    if (i == r->plen)
        m = k == r->nlen;
    else if (r->p[i] == '*')
        m = ref_match(r, i + 1, k) || (k < r->nlen && ref_match(r, i, k + 1));
    else if (k == r->nlen)
        m = 0;
    else if (r->p[i] == '?')
        m = ref_match(r, i + 1, k + 1);
    else if (r->p[i] == '[' && (after = ref_set(r, i, r->n[k], &hit)) != 0)
        m = hit && ref_match(r, after, k + 1);
    else
        m = r->p[i] == r->n[k] && ref_match(r, i + 1, k + 1);
    r->memo[i][k] = (signed char)m;
    return m;
}

static int ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return 0;
    return 1;
}

static int reference(const char *pattern, const char *name)
{
    static ref_t r;
    size_t plen = strlen(pattern), nlen = strlen(name);
    char p[REF_MAX + 3];
    int dir;

    for (size_t i = 0; i < plen; i++)
        p[i] = pattern[i] == '\\' ? '/' : pattern[i];
    dir = plen > 0 && p[plen - 1] == '/';
    if (dir) {                  /* huggingface_hub adds "*"; a file below needs a "?" too */
        p[plen++] = '?';
        p[plen++] = '*';
    }
    r.p = p;
    r.n = name;
    r.plen = plen;
    r.nlen = nlen;
    memset(r.memo, -1, sizeof r.memo);
    return ref_match(&r, 0, 0);
}

int hfz_glob(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, '\0', size);
    size_t plen = nul ? (size_t)(nul - data) : size;
    char *pattern = hfz_cstr(data, plen);
    char *name = hfz_cstr(nul ? nul + 1 : data + size, nul ? size - plen - 1 : 0);
    int got = hfi_glob_match(pattern, name);

    HFZ_CHECK(got == 0 || got == 1);
    if (strlen(pattern) <= REF_MAX && strlen(name) <= REF_MAX && ascii(pattern) && ascii(name))
        HFZ_CHECK(got == reference(pattern, name));
    for (char *c = pattern; *c; c++)    /* from here on, the pattern as it is read */
        if (*c == '\\')
            *c = '/';
    if (!strpbrk(pattern, "*?[") && !(pattern[0] && pattern[strlen(pattern) - 1] == '/'))
        HFZ_CHECK(got == (strcmp(pattern, name) == 0));
    free(pattern);
    free(name);
    return 0;
}

HFZ_ENTRY(hfz_glob)
