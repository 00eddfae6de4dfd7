/*
 * hash.c - streaming sha256 / git-sha1 over libcrypto's EVP interface.
 */
#include "config.h"

#include "hub/hash.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "core/alloc.h"
#include "hf/error.h"

int hfi_hash_init(hfi_hash_t *h, const char *etag, uint64_t size)
{
    size_t n = etag ? strlen(etag) : 0;
    EVP_MD_CTX *ctx;

    h->ctx = NULL;
    if (n != 40 && n != 64)
        return HF_EPROTO;
    if ((ctx = EVP_MD_CTX_new()) == NULL)
        return HF_ENOMEM;
    if (EVP_DigestInit_ex(ctx, n == 64 ? EVP_sha256() : EVP_sha1(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return HF_ENOMEM;
    }
    if (n == 40) {
        char prefix[32];
        int len = snprintf(prefix, sizeof prefix, "blob %llu", (unsigned long long)size);
        EVP_DigestUpdate(ctx, prefix, (size_t)len + 1);     /* the NUL is hashed too */
    }
    h->ctx = ctx;
    h->hexlen = (int)n;
    return 0;
}

int hfi_hash_update(hfi_hash_t *h, const void *buf, size_t n)
{
    return EVP_DigestUpdate(h->ctx, buf, n) == 1 ? 0 : HF_ENOMEM;
}

int hfi_hash_final(hfi_hash_t *h, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    static const char hex[] = "0123456789abcdef";
    int rc = EVP_DigestFinal_ex(h->ctx, md, &len) == 1 ? 0 : HF_ENOMEM;

    for (unsigned i = 0; i < len && 2 * i + 1 < 65; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[rc == 0 ? 2 * len : 0] = '\0';
    hfi_hash_free(h);
    return rc;
}

void hfi_hash_free(hfi_hash_t *h)
{
    if (h->ctx)
        EVP_MD_CTX_free(h->ctx);
    h->ctx = NULL;
}

int hfi_hash_fd(hfi_hash_t *h, int fd, uint64_t off, uint64_t len)
{
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = hfi_malloc(CHUNK);
    uint64_t end = off + len;
    int rc = 0;

    if (!buf)
        return HF_ENOMEM;
    while (off < end) {
        size_t want = end - off < CHUNK ? (size_t)(end - off) : CHUNK;
        ssize_t got = pread(fd, buf, want, (off_t)off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            rc = HF_EIO;
            break;
        }
        if ((rc = hfi_hash_update(h, buf, (size_t)got)) < 0)
            break;
        off += (uint64_t)got;
    }
    hfi_free(buf);
    return rc;
}
