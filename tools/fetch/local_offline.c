/*
 * local_offline.c - hf-fetch download --local-dir when offline (--offline, HF_HUB_OFFLINE):
 * answered from DIR and the cache, without a request, as huggingface_hub answers.
 *
 * Design notes
 *  - a named file: the copy already in DIR is the answer (huggingface_hub "defaults to the
 *    existing file" when it cannot reach the Hub); else the cached file of the revision is
 *    copied in; else the file is not found (exit 2);
 *  - the whole repo: the revision's cached snapshot (hf_hub_snapshot, offline) gives the
 *    files; those that match the globs and are not in DIR yet are copied in. With no
 *    snapshot in the cache a non-empty DIR is the answer, as huggingface_hub's
 *    snapshot_download returns it; else the repo is not found (exit 2);
 *  - no metadata file is written: the next online run checks each file with the Hub and
 *    rewrites it (the bytes come from the cache then, not the network).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fetch.h"

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* "DIR/FILE" (malloc'd). */
static char *join(const char *dir, const char *file)
{
    size_t n = strlen(dir) + strlen(file) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, file);
    return p;
}

static int copy_in(const char *from, const char *dir, const char *file)
{
    if (fetch_copy_file(from, dir, file) == 0)
        return EXIT_OK;
    if (errno == EINTR && fetch_interrupted)
        return EXIT_INTERRUPTED;        /* stopped by Ctrl-C: nothing of it left in DIR */
    fprintf(stderr, "hf-fetch: cannot write %s/%s: %s\n", dir, file, strerror(errno));
    return EXIT_LOCAL_IO;
}

int local_offline_file(fetch_ctx_t *c, const char *file)
{
    hf_file_ref_t ref = { c->o.repo, c->o.repo_type, c->o.revision, file };
    char *local, *cached = NULL;
    int rc = hf_hub_try_cache(c->hub, &ref, &cached), found;

    if (rc == HF_EINVAL) {      /* a malformed name: refused before DIR is looked at */
        fprintf(stderr, "hf-fetch: %s/%s: not a valid repo id, revision or file path\n",
                c->o.repo, file);
        return EXIT_USAGE;
    }
    if ((local = join(c->o.local_dir, file)) == NULL) {
        free(cached);
        return EXIT_LOCAL_IO;
    }
    found = is_file(local);
    free(local);
    if (found) {
        free(cached);
        return EXIT_OK;
    }
    if (rc < 0) {
        fprintf(stderr, "hf-fetch: %s/%s: offline mode and neither in %s nor in the cache\n",
                c->o.repo, file, c->o.local_dir);
        return rc == HF_ENOMEM ? EXIT_LOCAL_IO : EXIT_NOT_FOUND;
    }
    rc = copy_in(cached, c->o.local_dir, file);
    free(cached);
    return rc;
}

/* Copy the files below `root`/`rel` (rel "" at the top) that match the globs and are not
 * in DIR yet. The snapshot's entries are links to blobs: stat() follows them. */
static int walk(fetch_ctx_t *c, const char *root, const char *rel)
{
    char *here = rel[0] ? join(root, rel) : strdup(root);
    DIR *d = here ? opendir(here) : NULL;
    struct dirent *e;
    int rc = EXIT_OK;

    if (!d) {
        fprintf(stderr, "hf-fetch: cannot read %s: %s\n", here ? here : root, strerror(errno));
        free(here);
        return EXIT_LOCAL_IO;
    }
    while (rc == EXIT_OK && (e = readdir(d)) != NULL) {
        char *sub, *full, *local;
        struct stat st;
        int in = c->o.ninclude == 0;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        sub = rel[0] ? join(rel, e->d_name) : strdup(e->d_name);
        full = sub ? join(root, sub) : NULL;
        if (!full) {
            free(sub);
            rc = EXIT_LOCAL_IO;
            break;
        }
        if (stat(full, &st) < 0) {
            /* a dangling link is not a file */
        } else if (S_ISDIR(st.st_mode)) {
            rc = walk(c, root, sub);
        } else if (S_ISREG(st.st_mode)) {
            for (size_t k = 0; k < c->o.ninclude && !in; k++)
                in = hf_glob_match(c->o.include[k], sub);
            for (size_t k = 0; k < c->o.nexclude && in; k++)
                in = !hf_glob_match(c->o.exclude[k], sub);
            if (in && (local = join(c->o.local_dir, sub)) != NULL) {
                if (!is_file(local))
                    rc = copy_in(full, c->o.local_dir, sub);
                free(local);
            } else if (in) {
                rc = EXIT_LOCAL_IO;
            }
        }
        free(full);
        free(sub);
    }
    closedir(d);
    free(here);
    return rc;
}

static int non_empty_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (!d)
        return 0;
    while (!n && (e = readdir(d)) != NULL)
        n = strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

int local_offline_repo(fetch_ctx_t *c)
{
    hf_file_ref_t ref = { c->o.repo, c->o.repo_type, c->o.revision, NULL };
    hf_future_t *f = hf_hub_snapshot(c->hub, &ref, NULL);
    int rc;

    if (!f)
        return EXIT_LOCAL_IO;
    if ((rc = fetch_wait(f)) != EXIT_OK) {
        hf_future_release(f);
        return rc;
    }
    if (hf_future_state(f) != HF_FUTURE_FULFILLED) {
        rc = non_empty_dir(c->o.local_dir) ? EXIT_OK : fetch_fail(hf_future_error(f));
        hf_future_release(f);
        return rc;
    }
    rc = walk(c, hf_future_value(f), "");
    hf_future_release(f);
    return rc;
}
