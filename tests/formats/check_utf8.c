/*
 * check_utf8.c - the strict UTF-8 scan every text check of the readers goes through.
 */
#include "formats/fmtutil.h"
#include "formats/utf8.h"

#define S(literal) (const unsigned char *)(literal), sizeof(literal) - 1

START_TEST(well_formed_text_of_every_length_passes)
{
    ck_assert_uint_eq(hfi_utf8_scan(S(""), 0), 0);
    ck_assert_uint_eq(hfi_utf8_scan(S("plain ascii"), 0), 11);
    ck_assert_uint_eq(hfi_utf8_scan(S("\xc2\x80 \xdf\xbf"), 0), 5);                /* 2 bytes */
    ck_assert_uint_eq(hfi_utf8_scan(S("\xe0\xa0\x80\xed\x9f\xbf\xef\xbf\xbf"), 0), 9);
    ck_assert_uint_eq(hfi_utf8_scan(S("\xf0\x90\x80\x80\xf4\x8f\xbf\xbf"), 0), 8); /* 4 bytes */
    ck_assert_uint_eq(hfi_utf8_scan(S("\xe2\x96\x81the \xf0\x9f\x98\x80"), 0), 11);
}
END_TEST

START_TEST(ill_formed_sequences_are_found_at_their_first_byte)
{
    ck_assert_uint_eq(hfi_utf8_scan(S("ab\x80"), 0), 2);              /* lone continuation */
    ck_assert_uint_eq(hfi_utf8_scan(S("a\xc0\xaf"), 0), 1);           /* overlong '/' */
    ck_assert_uint_eq(hfi_utf8_scan(S("\xc1\xbf"), 0), 0);            /* overlong */
    ck_assert_uint_eq(hfi_utf8_scan(S("\xe0\x9f\xbf"), 0), 0);        /* overlong 3-byte */
    ck_assert_uint_eq(hfi_utf8_scan(S("\xf0\x8f\xbf\xbf"), 0), 0);    /* overlong 4-byte */
    ck_assert_uint_eq(hfi_utf8_scan(S("x\xed\xa0\x80"), 0), 1);       /* surrogate D800 */
    ck_assert_uint_eq(hfi_utf8_scan(S("\xf4\x90\x80\x80"), 0), 0);    /* above U+10FFFF */
    ck_assert_uint_eq(hfi_utf8_scan(S("\xf5\x80\x80\x80"), 0), 0);
    ck_assert_uint_eq(hfi_utf8_scan(S("ok\xe2\x82"), 0), 2);          /* cut by the end */
    ck_assert_uint_eq(hfi_utf8_scan(S("\xe2\x28\xa1"), 0), 0);        /* bad second byte */
    ck_assert_uint_eq(hfi_utf8_scan(S("\xf0\x90\x28\xbc"), 0), 0);    /* bad third byte */
    ck_assert_uint_eq(hfi_utf8_scan(S("\xff"), 0), 0);
}
END_TEST

START_TEST(control_characters_are_refused_only_when_asked)
{
    ck_assert_uint_eq(hfi_utf8_scan(S("a\x01" "b"), 0), 3);
    ck_assert_uint_eq(hfi_utf8_scan(S("a\x01" "b"), HFI_UTF8_NO_CONTROLS), 1);
    ck_assert_uint_eq(hfi_utf8_scan(S("\t\r\n x"), HFI_UTF8_NO_CONTROLS), 5);
    ck_assert_uint_eq(hfi_utf8_scan(S("nul\x00"), HFI_UTF8_NO_CONTROLS), 3);
    ck_assert_uint_eq(hfi_utf8_scan(S("\x7f"), HFI_UTF8_NO_CONTROLS), 1);   /* DEL is text */
}
END_TEST

static Suite *utf8_suite(void)
{
    Suite *s = suite_create("utf8");
    TCase *tc = tcase_create("scan");

    tcase_add_test(tc, well_formed_text_of_every_length_passes);
    tcase_add_test(tc, ill_formed_sequences_are_found_at_their_first_byte);
    tcase_add_test(tc, control_characters_are_refused_only_when_asked);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(utf8_suite)
