/*
 * utf8.h - strict UTF-8 validation of untrusted text.
 */
#ifndef HF_FORMATS_UTF8_H
#define HF_FORMATS_UTF8_H

#include <stddef.h>

/* Reject C0 control bytes other than tab, line feed and carriage return (JSON text). */
#define HFI_UTF8_NO_CONTROLS 1u

/*
 * hfi_utf8_scan - the offset of the first byte of `s[0..len)` that does not begin a
 * well-formed UTF-8 sequence (overlong forms, surrogates and code points above U+10FFFF
 * are ill-formed; so is a sequence cut off by the end), or `len` if all of it is valid.
 * With HFI_UTF8_NO_CONTROLS, bytes 0x00-0x1f other than \t \n \r are rejected too.
 */
size_t hfi_utf8_scan(const unsigned char *s, size_t len, unsigned flags);

#endif /* HF_FORMATS_UTF8_H */
