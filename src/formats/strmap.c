/*
 * strmap.c - open addressing with linear probing, keyed SipHash-1-3, load factor at most 1/2.
 *
 * Design notes
 *  - invariants: `cap` is 0 or a power of two; n * 2 <= cap, so at least half the slots are
 *    empty and every probe ends, at the key or at an empty slot; a key lies in the slot
 *    where the probe from its home slot (hash & (cap - 1)) first meets it, with no empty
 *    slot in between (nothing is ever removed, and growing re-inserts every key);
 *  - keys are borrowed (they live in the reader's arena or in the mapped file), so a slot
 *    is a pointer, a length, the hash and the value;
 *  - the table doubles when it would pass half full;
 *  - the keys come from untrusted files (tensor names, GGUF keys, vocabularies, indexes):
 *    with a fixed public hash, a file could hold names that share their home slot and make
 *    every insertion walk one long run (an audit measured 49 s instead of 0.5 s to open a
 *    32 MB safetensors header). So the hash is SipHash-1-3 (Aumasson and Bernstein's keyed
 *    PRF, one compression round per 8-byte word, three finalization rounds) under a 128-bit
 *    key drawn once per process, which a file's author cannot know;
 *  - the key comes from getentropy() where configure found it, else from /dev/urandom,
 *    else (neither works: a chroot without /dev, an old kernel) from a mix of the clocks,
 *    the process id and an address, which varies from run to run (and with ASLR) but is
 *    guessable by someone who can watch the process start: the fallback keeps accidental
 *    clustering away and makes an attack harder, it does not make it impossible;
 *  - nothing observable depends on where keys lie (there is no iteration), so a different
 *    key per process changes no result, only the cost.
 */
#define _DEFAULT_SOURCE 1       /* getentropy() in <unistd.h> */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if defined(HAVE_GETENTROPY) && defined(__APPLE__)
#include <sys/random.h>
#endif

#include "hf/error.h"
#include "formats/strmap.h"

struct hfi_strmap_slot {
    const char *key;            /* NULL: empty */
    size_t len;
    uint64_t hash;
    uint64_t value;
};

/* ---- SipHash ------------------------------------------------------------------------------ */

static inline uint64_t rotl(uint64_t x, unsigned b)
{
    return (x << b) | (x >> (64 - b));
}

static inline uint64_t load_le64(const unsigned char *p)
{
    uint64_t v = 0;
    unsigned i;

    for (i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* One SipRound over the state v[0..3]. */
static inline void sip_round(uint64_t v[4])
{
    v[0] += v[1];
    v[1] = rotl(v[1], 13) ^ v[0];
    v[0] = rotl(v[0], 32);
    v[2] += v[3];
    v[3] = rotl(v[3], 16) ^ v[2];
    v[0] += v[3];
    v[3] = rotl(v[3], 21) ^ v[0];
    v[2] += v[1];
    v[1] = rotl(v[1], 17) ^ v[2];
    v[2] = rotl(v[2], 32);
}

static inline void sip_absorb(uint64_t v[4], uint64_t m, unsigned c)
{
    unsigned r;

    v[3] ^= m;
    for (r = 0; r < c; r++)
        sip_round(v);
    v[0] ^= m;
}

/* SipHash-c-d of `len` bytes at `p` under the key k0 (bytes 0-7, little-endian), k1. */
static inline uint64_t siphash(uint64_t k0, uint64_t k1, const unsigned char *p, size_t len,
                               unsigned c, unsigned d)
{
    uint64_t v[4], last = (uint64_t)(len & 0xff) << 56;
    size_t i, tail = len & 7;
    unsigned r;

    v[0] = k0 ^ 0x736f6d6570736575ull;     /* "somepseudorandomlygeneratedbytes" */
    v[1] = k1 ^ 0x646f72616e646f6dull;
    v[2] = k0 ^ 0x6c7967656e657261ull;
    v[3] = k1 ^ 0x7465646279746573ull;
    for (i = 0; i + 8 <= len; i += 8)
        sip_absorb(v, load_le64(p + i), c);
    for (r = 0; r < tail; r++)
        last |= (uint64_t)p[len - tail + r] << (8 * r);
    sip_absorb(v, last, c);
    v[2] ^= 0xff;
    for (r = 0; r < d; r++)
        sip_round(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}

uint64_t hfi_siphash(const unsigned char key[16], const void *p, size_t len, unsigned c,
                     unsigned d)
{
    return siphash(load_le64(key), load_le64(key + 8), p, len, c, d);
}

/* ---- the process key ---------------------------------------------------------------------- */

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static uint64_t key0, key1;

static int urandom(unsigned char *buf, size_t n)
{
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    size_t got = 0;

    if (fd < 0)
        return -1;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    return got == n ? 0 : -1;
}

static void draw_key(void)
{
    unsigned char k[16];
    int rc = -1;

#ifdef HAVE_GETENTROPY
    rc = getentropy(k, sizeof k);
#endif
    if (rc != 0)
        rc = urandom(k, sizeof k);
    if (rc != 0) {
        /* the documented fallback: varies per run, but is not secret */
        struct timespec rt = { 0, 0 }, mt = { 0, 0 };
        uint64_t a = (uint64_t)(uintptr_t)&rt, b = (uint64_t)(uintptr_t)&key_once;
        uint64_t mix[5];

        clock_gettime(CLOCK_REALTIME, &rt);
        clock_gettime(CLOCK_MONOTONIC, &mt);
        mix[0] = (uint64_t)rt.tv_sec;
        mix[1] = (uint64_t)rt.tv_nsec;
        mix[2] = (uint64_t)mt.tv_sec ^ ((uint64_t)mt.tv_nsec << 20);
        mix[3] = (uint64_t)getpid();
        mix[4] = a ^ rotl(b, 29);
        key0 = siphash(a, b, (const unsigned char *)mix, sizeof mix, 2, 4);
        key1 = siphash(b, a ^ key0, (const unsigned char *)mix, sizeof mix, 2, 4);
        return;
    }
    key0 = load_le64(k);
    key1 = load_le64(k + 8);
}

/* ---- the map ------------------------------------------------------------------------------ */

static uint64_t hash(const hfi_strmap_t *m, const char *s, size_t len)
{
    return siphash(m->k0, m->k1, (const unsigned char *)s, len, 1, 3);
}

static struct hfi_strmap_slot *probe(struct hfi_strmap_slot *slots, size_t cap, const char *key,
                                     size_t len, uint64_t hash)
{
    size_t i = (size_t)hash & (cap - 1);

    while (slots[i].key &&
           !(slots[i].hash == hash && slots[i].len == len && memcmp(slots[i].key, key, len) == 0))
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

static int grow(hfi_strmap_t *m)
{
    size_t cap = m->cap ? m->cap * 2 : 16, i;
    struct hfi_strmap_slot *slots;

    if (cap > SIZE_MAX / 2 / sizeof *slots)
        return HF_ENOMEM;
    slots = calloc(cap, sizeof *slots);
    if (!slots)
        return HF_ENOMEM;
    if (m->cap == 0) {          /* the first table: the map takes the process key */
        pthread_once(&key_once, draw_key);
        m->k0 = key0;
        m->k1 = key1;
    }
    for (i = 0; i < m->cap; i++)
        if (m->slots[i].key)
            *probe(slots, cap, m->slots[i].key, m->slots[i].len, m->slots[i].hash) = m->slots[i];
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return 0;
}

int hfi_strmap_put(hfi_strmap_t *m, const char *key, size_t len, uint64_t value, uint64_t *old)
{
    struct hfi_strmap_slot *s;
    uint64_t h;

    if ((m->n + 1) * 2 > m->cap) {
        int rc = grow(m);
        if (rc < 0)
            return rc;
    }
    h = hash(m, key, len);
    s = probe(m->slots, m->cap, key, len, h);
    if (s->key) {
        if (old)
            *old = s->value;
        return 1;
    }
    s->key = key;
    s->len = len;
    s->hash = h;
    s->value = value;
    m->n++;
    return 0;
}

int hfi_strmap_set(hfi_strmap_t *m, const char *key, size_t len, uint64_t value)
{
    struct hfi_strmap_slot *s;

    if (m->cap > 0) {
        s = probe(m->slots, m->cap, key, len, hash(m, key, len));
        if (s->key) {
            s->value = value;
            return 1;
        }
    }
    return hfi_strmap_put(m, key, len, value, NULL);
}

int hfi_strmap_get(const hfi_strmap_t *m, const char *key, size_t len, uint64_t *value)
{
    const struct hfi_strmap_slot *s;

    if (m->cap == 0)
        return 0;
    s = probe(m->slots, m->cap, key, len, hash(m, key, len));
    if (!s->key)
        return 0;
    if (value)
        *value = s->value;
    return 1;
}

size_t hfi_strmap_max_probe(const hfi_strmap_t *m)
{
    size_t i, worst = 0;

    for (i = 0; i < m->cap; i++)
        if (m->slots[i].key) {
            size_t d = (i - ((size_t)m->slots[i].hash & (m->cap - 1))) & (m->cap - 1);
            if (d + 1 > worst)
                worst = d + 1;
        }
    return worst;
}

void hfi_strmap_free(hfi_strmap_t *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->n = 0;
}
