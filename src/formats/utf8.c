/*
 * utf8.c - strict UTF-8 validation (RFC 3629, table 3-7 of the Unicode standard).
 *
 * Design notes
 *  - the second byte's allowed range depends on the lead byte (E0: A0-BF, ED: 80-9F,
 *    F0: 90-BF, F4: 80-8F), which rules out overlong forms, surrogates and values above
 *    U+10FFFF without decoding; later continuation bytes are always 80-BF;
 *  - ASCII runs are the common case and take one comparison a byte.
 */
#include "config.h"

#include "formats/utf8.h"

/* The length of the sequence that `lead` starts, or 0 if it cannot start one. */
static unsigned seq_len(unsigned char lead, unsigned char *lo, unsigned char *hi)
{
    *lo = 0x80;
    *hi = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf)
        return 2;
    if (lead >= 0xe0 && lead <= 0xef) {
        if (lead == 0xe0)
            *lo = 0xa0;
        else if (lead == 0xed)
            *hi = 0x9f;
        return 3;
    }
    if (lead >= 0xf0 && lead <= 0xf4) {
        if (lead == 0xf0)
            *lo = 0x90;
        else if (lead == 0xf4)
            *hi = 0x8f;
        return 4;
    }
    return 0;
}

size_t hfi_utf8_scan(const unsigned char *s, size_t len, unsigned flags)
{
    size_t i = 0;

    while (i < len) {
        unsigned char c = s[i], lo, hi;
        unsigned n, k;

        if (c < 0x80) {
            if (c < 0x20 && (flags & HFI_UTF8_NO_CONTROLS) && c != '\t' && c != '\n' &&
                c != '\r')
                return i;
            i++;
            continue;
        }
        n = seq_len(c, &lo, &hi);
        if (n == 0 || n > len - i)
            return i;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return i;
        for (k = 2; k < n; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xbf)
                return i;
        i += n;
    }
    return len;
}
