/*
 * glob.c - fnmatch-style matching without the system's FNM_PATHNAME rules.
 *
 * Design notes
 *  - iterative with one backtracking point (the last '*'), so it is linear in practice and
 *    never recurses, whatever the pattern;
 *  - it works on characters, as Python's fnmatch (which huggingface_hub uses) does on str:
 *    '?' and a [set] take one UTF-8 character, set ranges compare code points, and a '*'
 *    gives back a whole character at a time, never part of one. A byte that does not start
 *    a valid UTF-8 sequence is one character of its own (0xDC00 + byte, as Python's
 *    surrogateescape decodes it), so no input is refused;
 *  - a '\' in a pattern is a '/', as huggingface_hub's filter_repo_objects reads it
 *    (patterns built with os.path.join on Windows); repo paths never hold one.
 */
#include "config.h"

#include "hub/glob.h"

#include "hf/hub.h"

#include <string.h>

/* The character at `s` into *cp; returns its length in bytes (1 for a NUL). */
static size_t next_char(const char *s, unsigned long *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    unsigned long c, min;
    size_t len;

    if (u[0] < 0x80) {
        *cp = u[0];
        return 1;
    }
    if (u[0] >= 0xC2 && u[0] <= 0xDF) {
        len = 2, c = u[0] & 0x1Fu, min = 0x80;
    } else if (u[0] >= 0xE0 && u[0] <= 0xEF) {
        len = 3, c = u[0] & 0x0Fu, min = 0x800;
    } else if (u[0] >= 0xF0 && u[0] <= 0xF4) {
        len = 4, c = u[0] & 0x07u, min = 0x10000;
    } else {
        goto raw;
    }
    for (size_t i = 1; i < len; i++) {
        if ((u[i] & 0xC0) != 0x80)      /* stops at a NUL too */
            goto raw;
        c = (c << 6) | (u[i] & 0x3Fu);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        goto raw;
    *cp = c;
    return len;
raw:
    *cp = 0xDC00u + u[0];
    return 1;
}

/* A pattern character: as next_char(), with '\' read as '/'. */
static size_t pattern_char(const char *p, unsigned long *cp)
{
    size_t len = next_char(p, cp);
    if (*cp == '\\')
        *cp = '/';
    return len;
}

/* Match one [set] at p (p points after '['); returns the position after ']' or NULL if
 * the set is malformed (then '[' is an ordinary character). *hit says whether c is in.
 * As in Python's fnmatch: a ']' right after "[" or "[!" is a member (and may start a
 * range), "a-b" is a range unless the '-' is last, and a range whose ends are the wrong
 * way round holds nothing. */
static const char *match_set(const char *p, unsigned long c, int *hit)
{
    int negate = 0, in = 0, first = 1;
    if (*p == '!') {            /* '^' is an ordinary member, as in Python's fnmatch */
        negate = 1;
        p++;
    }
    while (*p && (*p != ']' || first)) {
        unsigned long lo, hi;
        first = 0;
        p += pattern_char(p, &lo);
        if (p[0] == '-' && p[1] && p[1] != ']') {
            p += 1 + pattern_char(p + 1, &hi);
            in |= c >= lo && c <= hi;
        } else {
            in |= c == lo;
        }
    }
    if (*p != ']')
        return NULL;
    *hit = in ^ negate;
    return p + 1;
}

int hfi_glob_match(const char *pattern, const char *name)
{
    const char *p = pattern, *n = name, *star_p = NULL, *star_n = NULL;
    size_t plen = strlen(pattern);
    /* "dir/" means everything below: the pattern continues as if by "?*" (huggingface_hub
     * adds "*"; the "?" keeps "dir/" itself out), so its wildcards still apply */
    int below = plen > 0 && (pattern[plen - 1] == '/' || pattern[plen - 1] == '\\');

    while (*n) {
        unsigned long nc, pc;
        size_t nlen = next_char(n, &nc);

        if (below && *p == '\0')
            return 1;           /* the whole pattern matched, and something is left below */
        if (*p == '*') {
            star_p = ++p;
            star_n = n;
            continue;
        }
        if (*p == '?') {
            p++;
            n += nlen;
            continue;
        }
        if (*p == '[') {
            int hit = 0;
            const char *after = match_set(p + 1, nc, &hit);
            if (after) {
                if (hit) {
                    p = after;
                    n += nlen;
                    continue;
                }
                goto backtrack;
            }
        }
        if (*p) {
            size_t plen1 = pattern_char(p, &pc);
            if (pc == nc) {
                p += plen1;
                n += nlen;
                continue;
            }
        }
    backtrack:
        if (!star_p)
            return 0;
        p = star_p;
        star_n += next_char(star_n, &nc);   /* '*' takes one more whole character */
        n = star_n;
    }
    if (below)
        return 0;               /* the name ended before anything below the folder */
    while (*p == '*')
        p++;
    return *p == '\0';
}

int hf_glob_match(const char *pattern, const char *name)
{
    return pattern && name && hfi_glob_match(pattern, name);
}
