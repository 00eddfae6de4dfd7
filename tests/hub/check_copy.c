/*
 * check_copy.c - hfi_copy_file, the snapshot copy made when symlinks are off: the bytes,
 * the mode, replacing what is there without writing through it, errors, and which names
 * ever appear in the folder (inotify, where configure found it: Linux).
 *
 * Each behaviour runs twice: _i = 0 takes the platform's path (on Linux an unnamed file
 * linked in when complete), _i = 1 the portable one (hfi_copy_test_portable: a named
 * temporary file renamed into place). Check forks per test, so the hook stays in it.
 */
#include "common/testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef HAVE_INOTIFY_INIT1
#include <sys/inotify.h>
#endif

#include "hub/copy.h"

#define SIZE (3u << 20)

static char dir[64], src[128], dst[128], outside[128];
static unsigned char *pat;

static void setup(void)
{
    FILE *f;
    strcpy(dir, "/tmp/hfasync-copy-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(src, sizeof src, "%s/blob", dir);
    snprintf(outside, sizeof outside, "%s/outside", dir);
    ck_assert_int_eq(mkdir(strcat(strcpy(dst, dir), "/snap"), 0777), 0);
    strcat(dst, "/model.bin");
    pat = tu_pattern(SIZE, 3);
    ck_assert_ptr_nonnull(f = fopen(src, "wb"));
    ck_assert_uint_eq(fwrite(pat, 1, SIZE, f), SIZE);
    fclose(f);
    ck_assert_ptr_nonnull(f = fopen(outside, "wb"));
    fputs("outside", f);
    fclose(f);
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(pat);
}

/* `path` is a regular file (not a link) holding exactly the pattern. */
static void holds_the_blob(const char *path)
{
    struct stat st;
    unsigned char *got = malloc(SIZE);
    int fd;

    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert_msg(S_ISREG(st.st_mode), "%s is not a regular file", path);
    ck_assert_int_eq(st.st_size, SIZE);
    ck_assert_int_ge(fd = open(path, O_RDONLY), 0);
    ck_assert_int_eq(read(fd, got, SIZE), SIZE);
    close(fd);
    ck_assert(memcmp(got, pat, SIZE) == 0);
    free(got);
}

/* The names in the snapshot folder, joined by spaces, into buf. */
static const char *names_in_snap(char *buf, size_t size)
{
    char path[128];
    DIR *d;
    struct dirent *e;

    snprintf(path, sizeof path, "%s/snap", dir);
    ck_assert_ptr_nonnull(d = opendir(path));
    buf[0] = '\0';
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
            continue;
        if (buf[0])
            strncat(buf, " ", size - strlen(buf) - 1);
        strncat(buf, e->d_name, size - strlen(buf) - 1);
    }
    closedir(d);
    return buf;
}

START_TEST(a_copy_holds_the_bytes_with_the_mode_the_umask_gives)
{
    mode_t old = umask(027);
    struct stat st;
    char names[256];

    hfi_copy_test_portable(_i);
    ck_assert_int_eq(hfi_copy_file(src, dst, NULL), 0);
    umask(old);
    holds_the_blob(dst);
    ck_assert_int_eq(stat(dst, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0640);
    ck_assert_str_eq(names_in_snap(names, sizeof names), "model.bin");
}
END_TEST

START_TEST(a_file_or_a_planted_symlink_at_the_path_is_replaced_never_written_through)
{
    char names[256], got[16] = "";
    FILE *f;

    hfi_copy_test_portable(_i);
    ck_assert_int_eq(symlink(outside, dst), 0);
    ck_assert_int_eq(hfi_copy_file(src, dst, NULL), 0);
    holds_the_blob(dst);
    ck_assert_ptr_nonnull(f = fopen(outside, "rb"));
    ck_assert_ptr_nonnull(fgets(got, sizeof got, f));
    fclose(f);
    ck_assert_str_eq(got, "outside");
    /* and again over the copy itself */
    ck_assert_int_eq(truncate(dst, 10), 0);
    ck_assert_int_eq(hfi_copy_file(src, dst, NULL), 0);
    holds_the_blob(dst);
    ck_assert_str_eq(names_in_snap(names, sizeof names), "model.bin");
}
END_TEST

START_TEST(a_missing_source_is_an_io_error_that_names_it_and_leaves_nothing)
{
    hf_error_t e;
    char missing[160], names[256];

    hfi_copy_test_portable(_i);
    snprintf(missing, sizeof missing, "%s/no-such-blob", dir);
    memset(&e, 0, sizeof e);
    ck_assert_int_eq(hfi_copy_file(missing, dst, &e), HF_EIO);
    ck_assert_int_eq(e.code, HF_EIO);
    ck_assert_ptr_nonnull(strstr(e.message, "no-such-blob"));
    ck_assert_str_eq(names_in_snap(names, sizeof names), "");
    /* a folder that does not exist: the same */
    snprintf(missing, sizeof missing, "%s/no-such-dir/model.bin", dir);
    ck_assert_int_eq(hfi_copy_file(src, missing, &e), HF_EIO);
}
END_TEST

#ifdef HAVE_INOTIFY_INIT1
/* Every name created or moved into the snapshot folder during one copy, in order. */
static void names_seen_during_copy(char *buf, size_t size)
{
    char path[128];
    char ev[8192] __attribute__((aligned(8)));
    int in = inotify_init1(IN_NONBLOCK);
    ssize_t n;

    ck_assert_int_ge(in, 0);
    snprintf(path, sizeof path, "%s/snap", dir);
    ck_assert_int_ge(inotify_add_watch(in, path, IN_CREATE | IN_MOVED_TO), 0);
    ck_assert_int_eq(hfi_copy_file(src, dst, NULL), 0);
    buf[0] = '\0';
    while ((n = read(in, ev, sizeof ev)) > 0) {
        for (char *p = ev; p < ev + n;) {
            struct inotify_event *e = (struct inotify_event *)(void *)p;
            if (e->len) {
                strncat(buf, (e->mask & IN_CREATE) ? "+" : ">", size - strlen(buf) - 1);
                strncat(buf, e->name, size - strlen(buf) - 1);
                strncat(buf, " ", size - strlen(buf) - 1);
            }
            p += sizeof *e + e->len;
        }
    }
    close(in);
}

START_TEST(on_linux_no_name_but_the_final_one_ever_appears_so_a_kill_leaves_nothing)
{
    char seen[512];
    names_seen_during_copy(seen, sizeof seen);
#ifdef HAVE_O_TMPFILE
    ck_assert_str_eq(seen, "+model.bin ");
#else
    ck_assert_ptr_nonnull(strstr(seen, ".copy"));
#endif
    holds_the_blob(dst);
}
END_TEST

START_TEST(the_portable_path_writes_under_a_temporary_name_then_renames)
{
    char seen[512], want[128];
    hfi_copy_test_portable(1);
    names_seen_during_copy(seen, sizeof seen);
    snprintf(want, sizeof want, "+model.bin.%lx.copy >model.bin ", (unsigned long)getpid());
    ck_assert_str_eq(seen, want);
    holds_the_blob(dst);
}
END_TEST
#endif

static Suite *copy_suite(void)
{
    Suite *s = suite_create("copy");
    TCase *tc = tcase_create("copy");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, a_copy_holds_the_bytes_with_the_mode_the_umask_gives, 0, 2);
    tcase_add_loop_test(tc, a_file_or_a_planted_symlink_at_the_path_is_replaced_never_written_through, 0, 2);
    tcase_add_loop_test(tc, a_missing_source_is_an_io_error_that_names_it_and_leaves_nothing, 0, 2);
#ifdef HAVE_INOTIFY_INIT1
    tcase_add_test(tc, on_linux_no_name_but_the_final_one_ever_appears_so_a_kill_leaves_nothing);
    tcase_add_test(tc, the_portable_path_writes_under_a_temporary_name_then_renames);
#endif
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(copy_suite)
