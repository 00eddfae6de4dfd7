/*
 * check_strmap.c - the readers' hash map: put / get / duplicate semantics, many keys, the
 * keyed hash's known answers, and keys crafted to collide under a fixed hash (FNV-1a, the
 * map's former hash) spreading out under the keyed one: measured by the longest probe, not
 * by time.
 */
#include "formats/fmtutil.h"
#include "formats/strmap.h"

START_TEST(put_adds_once_and_reports_the_first_value_of_a_duplicate)
{
    hfi_strmap_t m = HFI_STRMAP_INIT;
    static const char ab[] = "ab\0ab";          /* keys are bytes: NUL and prefixes count */
    uint64_t v = 99, old = 99;

    ck_assert_int_eq(hfi_strmap_get(&m, "a", 1, &v), 0);
    ck_assert_uint_eq(hfi_strmap_max_probe(&m), 0);
    ck_assert_int_eq(hfi_strmap_put(&m, "a", 1, 1, &old), 0);
    ck_assert_uint_eq(old, 99);                 /* untouched when the key is new */
    ck_assert_int_eq(hfi_strmap_put(&m, "a", 1, 2, &old), 1);
    ck_assert_uint_eq(old, 1);
    ck_assert_int_eq(hfi_strmap_put(&m, "a", 1, 3, NULL), 1);
    ck_assert_int_eq(hfi_strmap_get(&m, "a", 1, &v), 1);
    ck_assert_uint_eq(v, 1);                    /* the first value stays */
    ck_assert_int_eq(hfi_strmap_put(&m, ab, 2, 10, NULL), 0);
    ck_assert_int_eq(hfi_strmap_put(&m, ab, 5, 11, NULL), 0);
    ck_assert_int_eq(hfi_strmap_put(&m, ab, 3, 12, NULL), 0);
    ck_assert_int_eq(hfi_strmap_put(&m, "", 0, 13, NULL), 0);
    ck_assert_uint_eq(m.n, 5);
    ck_assert_int_eq(hfi_strmap_get(&m, ab, 5, &v), 1);
    ck_assert_uint_eq(v, 11);
    ck_assert_int_eq(hfi_strmap_get(&m, ab, 3, &v), 1);
    ck_assert_uint_eq(v, 12);
    ck_assert_int_eq(hfi_strmap_get(&m, "", 0, &v), 1);
    ck_assert_uint_eq(v, 13);
    ck_assert_int_eq(hfi_strmap_get(&m, "ab\0a", 4, NULL), 0);
    ck_assert_int_eq(hfi_strmap_get(&m, "b", 1, NULL), 0);
    hfi_strmap_free(&m);
    ck_assert_int_eq(hfi_strmap_get(&m, "a", 1, NULL), 0);
    ck_assert_int_eq(hfi_strmap_put(&m, "a", 1, 4, NULL), 0);  /* usable again after free */
    ck_assert_int_eq(hfi_strmap_get(&m, "a", 1, &v), 1);
    ck_assert_uint_eq(v, 4);
    hfi_strmap_free(&m);
}
END_TEST

#define MANY 200000

START_TEST(two_hundred_thousand_keys_round_trip)
{
    hfi_strmap_t m = HFI_STRMAP_INIT;
    char *names = malloc((size_t)MANY * 16);
    uint64_t v, old;
    unsigned i;

    ck_assert_ptr_nonnull(names);
    for (i = 0; i < MANY; i++) {
        snprintf(names + 16 * (size_t)i, 16, "blk.%u.w", i);
        ck_assert_int_eq(hfi_strmap_put(&m, names + 16 * (size_t)i,
                                        strlen(names + 16 * (size_t)i), i, NULL), 0);
    }
    ck_assert_uint_eq(m.n, MANY);
    ck_assert_uint_le(m.n * 2, m.cap);          /* at most half full */
    for (i = 0; i < MANY; i++) {
        const char *k = names + 16 * (size_t)i;
        ck_assert_int_eq(hfi_strmap_get(&m, k, strlen(k), &v), 1);
        ck_assert_uint_eq(v, i);
        ck_assert_int_eq(hfi_strmap_put(&m, k, strlen(k), 0, &old), 1);
        ck_assert_uint_eq(old, i);
    }
    ck_assert_int_eq(hfi_strmap_get(&m, "blk.200000.w", 12, NULL), 0);
    ck_assert_uint_eq(m.n, MANY);
    ck_assert_uint_lt(hfi_strmap_max_probe(&m), 64);
    hfi_strmap_free(&m);
    free(names);
}
END_TEST

/* Known answers under the key 00 01 .. 0f and the messages 00, 00 01, ... : SipHash-2-4's
 * come from its paper (Aumasson and Bernstein, appendix A: 15 bytes give a129ca6149be45e5)
 * and its reference vectors; SipHash-1-3's, the map's variant, were checked against
 * OpenSSL 3's SIPHASH MAC with c-rounds 1 and d-rounds 3. */
START_TEST(siphash_gives_the_known_answers)
{
    static const struct { size_t len; uint64_t h24, h13; } want[] = {
        { 0, 0x726fdb47dd0e0e31ull, 0xabac0158050fc4dcull },
        { 7, 0xab0200f58b01d137ull, 0xd3927d989bb11140ull },
        { 8, 0x93f5f5799a932462ull, 0x369095118d299a8eull },
        { 15, 0xa129ca6149be45e5ull, 0xd320d86d2a519956ull },
        { 19, 0xbb6dc91da77961bdull, 0xf21f9de58d297d1cull },
    };
    unsigned char key[16], msg[32];
    size_t i;

    for (i = 0; i < sizeof key; i++)
        key[i] = (unsigned char)i;
    for (i = 0; i < sizeof msg; i++)
        msg[i] = (unsigned char)i;
    for (i = 0; i < sizeof want / sizeof want[0]; i++) {
        ck_assert_msg(hfi_siphash(key, msg, want[i].len, 2, 4) == want[i].h24, "2-4, %zu bytes",
                      want[i].len);
        ck_assert_msg(hfi_siphash(key, msg, want[i].len, 1, 3) == want[i].h13, "1-3, %zu bytes",
                      want[i].len);
    }
}
END_TEST

static uint64_t fnv1a(const char *s, size_t len)
{
    uint64_t h = 14695981039346656037ull;
    size_t i;

    for (i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

#define CRAFTED 20000
#define KEY_LEN 9
#define LOW_BITS 12

/*
 * CRAFTED distinct keys whose FNV-1a hashes agree in their low LOW_BITS bits (all zero):
 * h = (h ^ byte) * prime, and the prime is odd, so the low 12 bits of a hash are zero
 * exactly when those of (h ^ last byte) are: a prefix whose hash has bits 8-11 clear, and
 * a last byte equal to its low 8 bits.
 */
static char *crafted_keys(void)
{
    char *keys = malloc((size_t)CRAFTED * KEY_LEN);
    unsigned n = 0, p;

    ck_assert_ptr_nonnull(keys);
    for (p = 0; n < CRAFTED; p++) {
        char *k = keys + (size_t)n * KEY_LEN;
        uint64_t h;
        snprintf(k, KEY_LEN, "w%07u", p);       /* 8 bytes; the NUL is overwritten */
        h = fnv1a(k, KEY_LEN - 1);
        if ((h & 0xf00) != 0)
            continue;
        k[KEY_LEN - 1] = (char)(h & 0xff);
        ck_assert_uint_eq(fnv1a(k, KEY_LEN) & ((1u << LOW_BITS) - 1), 0);
        n++;
    }
    return keys;
}

/* The longest probe of linear probing in `cap` slots, homes from FNV-1a: the former map. */
static size_t fnv_max_probe(const char *keys, size_t cap)
{
    unsigned char *used = calloc(cap, 1);
    size_t worst = 0, i;

    ck_assert_ptr_nonnull(used);
    for (i = 0; i < CRAFTED; i++) {
        size_t home = (size_t)fnv1a(keys + i * KEY_LEN, KEY_LEN) & (cap - 1), d = 0;
        while (used[(home + d) & (cap - 1)])
            d++;
        used[(home + d) & (cap - 1)] = 1;
        if (d + 1 > worst)
            worst = d + 1;
    }
    free(used);
    return worst;
}

START_TEST(keys_colliding_under_a_fixed_hash_spread_out_under_the_keyed_one)
{
    hfi_strmap_t m = HFI_STRMAP_INIT;
    char *keys = crafted_keys();
    uint64_t v;
    size_t i;

    for (i = 0; i < CRAFTED; i++)
        ck_assert_int_eq(hfi_strmap_put(&m, keys + i * KEY_LEN, KEY_LEN, i, NULL), 0);
    /* the same keys in a table of the same size would take runs of over a thousand slots
     * under FNV-1a (CRAFTED keys over cap / 2^LOW_BITS homes) ... */
    ck_assert_uint_gt(fnv_max_probe(keys, m.cap), 1000);
    /* ... and take a few under SipHash with the process's key */
    ck_assert_msg(hfi_strmap_max_probe(&m) < 64, "longest probe %zu",
                  hfi_strmap_max_probe(&m));
    for (i = 0; i < CRAFTED; i++) {
        ck_assert_int_eq(hfi_strmap_get(&m, keys + i * KEY_LEN, KEY_LEN, &v), 1);
        ck_assert_uint_eq(v, i);
    }
    hfi_strmap_free(&m);
    free(keys);
}
END_TEST

static Suite *strmap_suite(void)
{
    Suite *s = suite_create("strmap");
    TCase *tc = tcase_create("map");

    tcase_add_test(tc, put_adds_once_and_reports_the_first_value_of_a_duplicate);
    tcase_add_test(tc, two_hundred_thousand_keys_round_trip);
    tcase_add_test(tc, siphash_gives_the_known_answers);
    tcase_add_test(tc, keys_colliding_under_a_fixed_hash_spread_out_under_the_keyed_one);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(strmap_suite)
