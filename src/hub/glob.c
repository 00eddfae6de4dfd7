/*
 * glob.c - fnmatch-style matching without the system's FNM_PATHNAME rules.
 *
 * Design notes
 *  - iterative with one backtracking point (the last '*'), so it is linear in practice and
 *    never recurses, whatever the pattern.
 */
#include "config.h"

#include "hub/glob.h"

#include "hf/hub.h"

#include <string.h>

/* Match one [set] at p (p points after '['); returns the position after ']' or NULL if
 * the set is malformed (then '[' is an ordinary character). *hit says whether c is in. */
static const char *match_set(const char *p, char c, int *hit)
{
    int negate = 0, in = 0;
    if (*p == '!') {            /* '^' is an ordinary member, as in Python's fnmatch */
        negate = 1;
        p++;
    }
    if (*p == ']') {            /* a leading ']' is a member */
        in |= c == ']';
        p++;
    }
    while (*p && *p != ']') {
        if (p[1] == '-' && p[2] && p[2] != ']') {
            in |= (unsigned char)c >= (unsigned char)p[0] && (unsigned char)c <= (unsigned char)p[2];
            p += 3;
        } else {
            in |= c == *p;
            p++;
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
    int below = plen > 0 && pattern[plen - 1] == '/';

    while (*n) {
        if (below && *p == '\0')
            return 1;           /* the whole pattern matched, and something is left below */
        if (*p == '*') {
            star_p = ++p;
            star_n = n;
            continue;
        }
        if (*p == '?') {
            p++;
            n++;
            continue;
        }
        if (*p == '[') {
            int hit = 0;
            const char *after = match_set(p + 1, *n, &hit);
            if (after) {
                if (hit) {
                    p = after;
                    n++;
                    continue;
                }
                goto backtrack;
            }
        }
        if (*p && *p == *n) {
            p++;
            n++;
            continue;
        }
    backtrack:
        if (!star_p)
            return 0;
        p = star_p;
        n = ++star_n;
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
