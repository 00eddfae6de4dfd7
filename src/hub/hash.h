/*
 * hash.h - the content hashes that name blobs: sha256 for LFS files (64-hex etags), git's
 * blob sha1 (sha1 of "blob <size>\0" + content) for the others (40-hex etags).
 */
#ifndef HFI_HASH_H
#define HFI_HASH_H

#include <stddef.h>
#include <stdint.h>

typedef struct hfi_hash {
    void *ctx;                  /* EVP_MD_CTX */
    int hexlen;                 /* 64 or 40 */
} hfi_hash_t;

/* Start the hash an `etag` calls for (its length decides); `size` is the blob's size (git
 * hashes it into the prefix). Returns 0, HF_EPROTO (not a 40/64-hex etag), HF_ENOMEM. */
int hfi_hash_init(hfi_hash_t *h, const char *etag, uint64_t size);
int hfi_hash_update(hfi_hash_t *h, const void *buf, size_t n);
/* Finish into out[hexlen + 1] (lowercase hex) and free the context. */
int hfi_hash_final(hfi_hash_t *h, char out[65]);
void hfi_hash_free(hfi_hash_t *h);

/* Hash bytes [off, off + len) of the open file `fd` into `h` (pread, 1 MiB at a time).
 * Returns 0 or HF_EIO. */
int hfi_hash_fd(hfi_hash_t *h, int fd, uint64_t off, uint64_t len);

#endif /* HFI_HASH_H */
