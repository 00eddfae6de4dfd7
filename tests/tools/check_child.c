/*
 * check_child.c - tools/common/child.c, how hf-demo and hf-bench run hf-mock-hub:
 * mock_start reads the mock's "listening" line and keeps its stdout open, sends its
 * stderr where asked, reports a mock that cannot run or exits at once without leaving a
 * child behind; mock_stop ends and reaps it, and touches nothing for a mock that never
 * started.
 */
#include "common/testutil.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/child.h"
#include "common/mockhub.h"

static char script[1024];
static tu_mock_t repos;         /* only its root folder and files: child.c runs the mock */
static const char *root;

static void setup(void)
{
    const char *src = getenv("HF_TOP_SRCDIR");
    snprintf(script, sizeof script, "%s/tools/mock-hub/hf-mock-hub", src ? src : ".");
    tu_mock_root(&repos);
    root = repos.root;
}

static void teardown(void)
{
    tu_mock_stop(&repos);       /* removes the root */
}

/* No child of this process is left, running or unreaped. */
static void no_children(void)
{
    errno = 0;
    ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
    ck_assert_int_eq(errno, ECHILD);
}

START_TEST(a_started_mock_answers_and_stops_reaped_with_its_pipe_closed)
{
    mock_proc_t m;
    char url[200];
    long status = 0;
    pid_t pid;
    int out;

    ck_assert_int_eq(mock_start(&m, script, root, NULL, -1), 0);
    ck_assert_int_gt(m.pid, 0);
    ck_assert_int_ge(m.out, 0);
    ck_assert_msg(strncmp(m.hub, "http://127.0.0.1:", 17) == 0, "hub %s", m.hub);
    ck_assert_msg(strncmp(m.cdn, "http://127.0.0.1:", 17) == 0, "cdn %s", m.cdn);
    ck_assert_str_ne(m.hub, m.cdn);
    snprintf(url, sizeof url, "%s/_mock/stats", m.hub);
    free(tu_http("GET", url, NULL, &status));
    ck_assert_int_eq(status, 200);
    pid = m.pid;
    out = m.out;
    mock_stop(&m);
    ck_assert_int_eq(m.pid, -1);
    ck_assert_int_eq(m.out, -1);
    ck_assert_int_eq(fcntl(out, F_GETFD), -1);          /* its stdout pipe is closed */
    ck_assert_int_eq(kill(pid, 0), -1);                 /* gone and reaped */
    no_children();
}
END_TEST

START_TEST(the_extra_arguments_reach_the_mock)
{
    mock_proc_t m;
    const char *extra[] = { "--cdn-url", "http://127.0.0.1:9/elsewhere", NULL };
    char url[300], *location = NULL;
    long status = 0;
    CURL *c;

    tu_mock_file(&repos, "model", "org/repo", "w.bin", "weights", 7);
    tu_mock_settings(&repos, "model", "org/repo", "{\"lfs\": [\"*.bin\"]}");
    ck_assert_int_eq(mock_start(&m, script, root, extra, -1), 0);
    /* an LFS file's redirect names the CDN given on the command line */
    snprintf(url, sizeof url, "%s/org/repo/resolve/main/w.bin", m.hub);
    ck_assert_ptr_nonnull(c = curl_easy_init());
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &location);
    ck_assert_int_eq(status, 302);
    ck_assert_ptr_nonnull(location);
    ck_assert_msg(strncmp(location, "http://127.0.0.1:9/elsewhere/", 29) == 0, "to %s", location);
    curl_easy_cleanup(c);
    mock_stop(&m);
    no_children();
}
END_TEST

START_TEST(a_mock_that_exits_at_once_is_reported_and_its_message_goes_to_err_fd)
{
    mock_proc_t m;
    char log[] = "/tmp/hfasync-child-log-XXXXXX", got[512] = "";
    int fd = mkstemp(log);
    ssize_t n;

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(mock_start(&m, script, "/nonexistent-hfasync-root", NULL, fd), -1);
    ck_assert_int_eq(m.pid, -1);
    ck_assert_int_eq(m.out, -1);
    no_children();
    n = pread(fd, got, sizeof got - 1, 0);
    ck_assert_int_gt(n, 0);
    got[n] = '\0';
    ck_assert_msg(strstr(got, "nonexistent-hfasync-root") != NULL, "stderr: %s", got);
    close(fd);
    unlink(log);
}
END_TEST

START_TEST(a_mock_that_cannot_run_is_reported_without_a_child_left)
{
    mock_proc_t m;
    setenv("PYTHON3", "/nonexistent-hfasync/python3", 1);
    ck_assert_int_eq(mock_start(&m, script, root, NULL, -1), -1);
    ck_assert_int_eq(m.pid, -1);
    no_children();
}
END_TEST

START_TEST(stopping_a_mock_that_never_started_touches_nothing)
{
    mock_proc_t m;
    memset(&m, 0, sizeof m);            /* as in a zeroed tool state: out is 0, stdin's fd */
    mock_stop(&m);
    ck_assert_int_ne(fcntl(0, F_GETFD), -1);
    ck_assert_int_eq(m.pid, 0);
}
END_TEST

static Suite *child_suite(void)
{
    Suite *s = suite_create("child");
    TCase *tc = tcase_create("mock");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, a_started_mock_answers_and_stops_reaped_with_its_pipe_closed);
    tcase_add_test(tc, the_extra_arguments_reach_the_mock);
    tcase_add_test(tc, a_mock_that_exits_at_once_is_reported_and_its_message_goes_to_err_fd);
    tcase_add_test(tc, a_mock_that_cannot_run_is_reported_without_a_child_left);
    tcase_add_test(tc, stopping_a_mock_that_never_started_touches_nothing);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(child_suite)
