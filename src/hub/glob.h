/*
 * glob.h - the include/exclude patterns of snapshot downloads, with huggingface_hub's
 * fnmatch semantics: '*' matches any run of characters, '/' included; '?' one character;
 * [abc], [a-z] and [!abc] sets; a pattern ending in '/' matches everything below it.
 */
#ifndef HFI_GLOB_H
#define HFI_GLOB_H

/* 1 if `name` matches `pattern`. */
int hfi_glob_match(const char *pattern, const char *name);

#endif /* HFI_GLOB_H */
