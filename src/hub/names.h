/*
 * names.h - validating what the caller names (repo ids, file paths, revisions) and
 * turning it into URL pieces and cache folder names. Everything here is pure: no I/O.
 */
#ifndef HFI_NAMES_H
#define HFI_NAMES_H

#include <stddef.h>

#include "hf/hub.h"

/* Each returns 0 or HF_EINVAL with a message in `err` naming what is wrong. */
int hfi_check_repo_id(const char *repo_id, hf_error_t *err);
int hfi_check_path(const char *path, hf_error_t *err);
int hfi_check_revision(const char *rev, hf_error_t *err);
int hfi_check_repo_type(hf_repo_type_t type, hf_error_t *err);
/* The same for `n` bytes that need not end with a NUL: an embedded NUL is refused. */
int hfi_check_repo_id_n(const char *repo_id, size_t n, hf_error_t *err);
int hfi_check_path_n(const char *path, size_t n, hf_error_t *err);
int hfi_check_revision_n(const char *rev, size_t n, hf_error_t *err);

/* 1 if `rev` is exactly 40 lowercase hex digits (a commit). */
int hfi_is_commit(const char *rev);
/* 1 if `s` is exactly `n` lowercase hex digits. */
int hfi_is_hex(const char *s, size_t n);

/* "models--org--name" (malloc'd) for a checked repo id. NULL if memory is short. */
char *hfi_repo_folder(hf_repo_type_t type, const char *repo_id);
/* "" for models, "datasets/", "spaces/". */
const char *hfi_url_prefix(hf_repo_type_t type);

/* Percent-encode `s` (RFC 3986 unreserved characters kept, and '/' if keep_slash).
 * Returns malloc'd text or NULL. */
char *hfi_url_encode(const char *s, int keep_slash);

/* A printf into a new malloc'd string, or NULL. */
char *hfi_strfmt(const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

#endif /* HFI_NAMES_H */
