/*
 * cmd_download.c - hf-fetch download: one file, several, or a snapshot; with --local-dir,
 * plain copies beside the cache with huggingface_hub's metadata files, so that a second
 * run fetches nothing that did not change.
 */
#include "config.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fetch.h"

/* Print the result: the path as text, or {"path": ...}. */
static void print_path(const fetch_opts_t *o, const char *path, const char *key)
{
    if (o->json) {
        cJSON *j = cJSON_CreateObject();
        char *s;
        cJSON_AddStringToObject(j, key, path);
        s = cJSON_PrintUnformatted(j);
        printf("%s\n", s);
        cJSON_free(s);
        cJSON_Delete(j);
    } else {
        printf("%s\n", path);
    }
}

/* Wait for `f`; on failure print why. Returns an exit code. */
static int settle(hf_future_t *f)
{
    int rc = fetch_wait(f);
    if (rc)
        return rc;
    if (hf_future_state(f) != HF_FUTURE_FULFILLED)
        return fetch_fail(hf_future_error(f));
    return EXIT_OK;
}

/* ---- --local-dir -------------------------------------------------------------------------- */

static int mkdirs_for(const char *path)
{
    char *d = strdup(path), *p;
    if (!d)
        return -1;
    for (p = d + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(d, 0777) < 0 && errno != EEXIST) {
                free(d);
                return -1;
            }
            *p = '/';
        }
    }
    free(d);
    return 0;
}

/* Write all `n` bytes of `buf` to `fd`; a write cut short by a signal goes on unless the
 * signal was Ctrl-C or SIGTERM. Returns 0, or -1 (errno set). */
static int write_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR && !fetch_interrupted)
            continue;
        if (w < 0)
            return -1;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

int fetch_copy_file(const char *from, const char *dir, const char *file)
{
    size_t len = strlen(dir) + strlen(file) + 80;
    char *to = malloc(len), *tmp = malloc(len), buf[1 << 16];
    int in = -1, out = -1, rc = -1;
    ssize_t n;

    if (!to || !tmp)
        goto out;
    snprintf(to, len, "%s/%s", dir, file);
    /* beside the metadata, as huggingface_hub keeps its partial files: a copy cut short
     * by a kill leaves nothing among DIR's own files */
    snprintf(tmp, len, "%s/.cache/huggingface/download/%s.%ld.incomplete", dir, file,
             (long)getpid());
    if (fetch_interrupted) {
        errno = EINTR;
        goto out;
    }
    if (mkdirs_for(to) < 0 || mkdirs_for(tmp) < 0 || (in = open(from, O_RDONLY)) < 0)
        goto out;
    if ((out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0666)) < 0)
        goto out;
    for (;;) {
        /* a large file takes a while: Ctrl-C stops it here, not at the next wait */
        if (fetch_interrupted) {
            errno = EINTR;
            goto out;
        }
        if ((n = read(in, buf, sizeof buf)) < 0 && errno == EINTR)
            continue;           /* the flag says whether to go on */
        if (n < 0 || (n > 0 && write_all(out, buf, (size_t)n) < 0))
            goto out;
        if (n == 0)
            break;
    }
    rc = close(out);
    out = -1;
    if (rc == 0)
        rc = rename(tmp, to);
out:
    if (out >= 0)
        close(out);
    if (in >= 0)
        close(in);
    if (rc < 0 && tmp) {
        int e = errno;
        unlink(tmp);
        errno = e;
    }
    free(to);
    free(tmp);
    return rc;
}

/* huggingface_hub's <local_dir>/.cache/huggingface/download/<path>.metadata:
 * "<commit>\n<etag>\n<unix time>\n". */
static char *meta_path(const char *dir, const char *file)
{
    size_t n = strlen(dir) + strlen(file) + 64;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/.cache/huggingface/download/%s.metadata", dir, file);
    return p;
}

static int up_to_date(const char *dir, const char *file, const hf_file_metadata_t *m)
{
    char *mp = meta_path(dir, file), line[3][128], local[4200];
    struct stat st;
    FILE *f;
    int ok = 0;

    snprintf(local, sizeof local, "%s/%s", dir, file);
    if (mp && (f = fopen(mp, "r")) != NULL) {
        if (fgets(line[0], sizeof line[0], f) && fgets(line[1], sizeof line[1], f) &&
            fgets(line[2], sizeof line[2], f) && stat(local, &st) == 0) {
            line[1][strcspn(line[1], "\n")] = '\0';
            ok = strcmp(line[1], m->etag) == 0 && (uint64_t)st.st_size == m->size &&
                 (double)st.st_mtime <= strtod(line[2], NULL) + 1.0;
        }
        fclose(f);
    }
    free(mp);
    return ok;
}

static int write_meta(const char *dir, const char *file, const hf_file_metadata_t *m)
{
    char *mp = meta_path(dir, file);
    FILE *f;
    int rc = -1;
    if (mp && mkdirs_for(mp) == 0 && (f = fopen(mp, "w")) != NULL) {
        rc = fprintf(f, "%s\n%s\n%.6f\n", m->commit, m->etag, (double)time(NULL)) < 0 ? -1 : 0;
        if (fclose(f) != 0)
            rc = -1;
    }
    free(mp);
    return rc;
}

/* Bring one file of the local dir up to date. */
static int local_one(fetch_ctx_t *c, const char *file, hf_progress_fn pf, void *parg)
{
    hf_file_ref_t ref = { c->o.repo, c->o.repo_type, c->o.revision, file };
    hf_download_opts_t dopts;
    hf_future_t *mf, *df;
    const hf_file_metadata_t *m;
    char local[4200];
    int rc;

    if (hf_hub_is_offline(c->hub))
        return local_offline_file(c, file);     /* no request: DIR, else the cache */
    if ((mf = hf_hub_file_metadata(c->hub, &ref)) == NULL)
        return EXIT_LOCAL_IO;
    if ((rc = settle(mf)) != EXIT_OK) {
        hf_future_release(mf);
        return rc;
    }
    m = hf_future_value(mf);
    if (up_to_date(c->o.local_dir, file, m)) {
        hf_future_release(mf);
        return EXIT_OK;         /* unchanged: nothing fetched, nothing written */
    }
    ref.revision = m->commit;   /* the very bytes the metadata described */
    memset(&dopts, 0, sizeof dopts);
    dopts.progress = pf;
    dopts.progress_arg = parg;
    df = hf_hub_download(c->hub, &ref, &dopts);
    if (!df || (rc = settle(df)) != EXIT_OK) {
        hf_future_release(df);
        hf_future_release(mf);
        return df ? rc : EXIT_LOCAL_IO;
    }
    snprintf(local, sizeof local, "%s/%s", c->o.local_dir, file);
    if (fetch_copy_file(hf_future_value(df), c->o.local_dir, file) < 0 ||
        write_meta(c->o.local_dir, file, m) < 0) {
        if (errno == EINTR && fetch_interrupted)
            rc = EXIT_INTERRUPTED;      /* the temporary copy is gone; DIR/file as it was */
        else {
            fprintf(stderr, "hf-fetch: cannot write %s: %s\n", local, strerror(errno));
            rc = EXIT_LOCAL_IO;
        }
    }
    hf_future_release(df);
    hf_future_release(mf);
    return rc;
}

static int local_dir(fetch_ctx_t *c, hf_progress_fn pf, void *parg)
{
    const char **files = c->o.files;
    size_t n = c->o.nfiles;
    hf_future_t *info = NULL;
    int rc = EXIT_OK;

    if (n == 0 && hf_hub_is_offline(c->hub)) {     /* the cached snapshot, no request */
        if ((rc = local_offline_repo(c)) == EXIT_OK)
            print_path(&c->o, c->o.local_dir, "local_dir");
        return rc;
    }
    if (n == 0) {               /* the whole repo: its file list, filtered */
        hf_file_ref_t ref = { c->o.repo, c->o.repo_type, c->o.revision, NULL };
        const hf_repo_info_t *ri;
        info = hf_hub_repo_info(c->hub, &ref);
        if (!info || (rc = settle(info)) != EXIT_OK) {
            hf_future_release(info);
            return info ? rc : EXIT_LOCAL_IO;
        }
        ri = hf_future_value(info);
        files = calloc(ri->nfiles + 1, sizeof *files);
        for (size_t i = 0; files && i < ri->nfiles; i++) {
            int in = c->o.ninclude == 0;
            for (size_t k = 0; k < c->o.ninclude && !in; k++)
                in = hf_glob_match(c->o.include[k], ri->files[i].path);
            for (size_t k = 0; k < c->o.nexclude && in; k++)
                in = !hf_glob_match(c->o.exclude[k], ri->files[i].path);
            if (in)
                files[n++] = ri->files[i].path;
        }
    }
    for (size_t i = 0; files && i < n && rc == EXIT_OK; i++)
        rc = local_one(c, files[i], pf, parg);
    if (rc == EXIT_OK)
        print_path(&c->o, c->o.local_dir, "local_dir");
    if (files != c->o.files)
        free((void *)files);
    hf_future_release(info);
    return rc;
}

/* ---- into the cache ------------------------------------------------------------------------ */

/* Several named files: all at once; print the snapshot folder they share. */
static int some_files(fetch_ctx_t *c, hf_progress_fn pf, void *parg)
{
    size_t n = c->o.nfiles;
    hf_future_t **fs = calloc(n, sizeof *fs), *all;
    hf_download_opts_t dopts;
    int rc;

    if (!fs)
        return EXIT_LOCAL_IO;
    memset(&dopts, 0, sizeof dopts);
    dopts.progress = pf;
    dopts.progress_arg = parg;
    for (size_t i = 0; i < n; i++) {
        hf_file_ref_t ref = { c->o.repo, c->o.repo_type, c->o.revision, c->o.files[i] };
        if ((fs[i] = hf_hub_download(c->hub, &ref, &dopts)) == NULL)
            fs[i] = hf_future_rejected(HF_ENOMEM, 0, "out of memory");
    }
    all = hf_future_all(fs, n);
    rc = all ? settle(all) : EXIT_LOCAL_IO;
    if (rc == EXIT_OK) {
        /* snapshots/<commit>/<file>: strip the file's own path */
        const char *p = hf_future_value(fs[0]);
        size_t len = strlen(p) - strlen(c->o.files[0]) - 1;
        char *dir = strndup(p, len);
        if (dir)
            print_path(&c->o, dir, "snapshot");
        free(dir);
    }
    for (size_t i = 0; i < n; i++)
        hf_future_release(fs[i]);
    hf_future_release(all);
    free(fs);
    return rc;
}

int cmd_download(fetch_ctx_t *c)
{
    hf_file_ref_t ref = { c->o.repo, c->o.repo_type, c->o.revision, NULL };
    void *parg;
    hf_progress_fn pf = progress_sink(&c->o, &parg);
    hf_future_t *f = NULL;
    int rc;

    c->progress = parg;         /* freed by main once the hub is: the sink outlives us */

    /* as `hf download`: named files are what is fetched; the globs filter a whole repo */
    if (c->o.nfiles && (c->o.ninclude || c->o.nexclude))
        fprintf(stderr, "hf-fetch: ignoring --include and --exclude: FILE arguments name the "
                        "files to download\n");
    if (c->o.local_dir) {
        rc = local_dir(c, pf, parg);
        progress_done(parg);
        return rc;
    }
    if (c->o.nfiles == 1) {
        hf_download_opts_t dopts;
        memset(&dopts, 0, sizeof dopts);
        dopts.progress = pf;
        dopts.progress_arg = parg;
        ref.path = c->o.files[0];
        f = hf_hub_download(c->hub, &ref, &dopts);
        rc = f ? settle(f) : EXIT_LOCAL_IO;
        progress_done(parg);
        if (rc == EXIT_OK)
            print_path(&c->o, hf_future_value(f), "path");
    } else if (c->o.nfiles > 1) {
        rc = some_files(c, pf, parg);
        progress_done(parg);
    } else {
        hf_snapshot_opts_t sopts;
        memset(&sopts, 0, sizeof sopts);
        sopts.include = c->o.include;
        sopts.ninclude = c->o.ninclude;
        sopts.exclude = c->o.exclude;
        sopts.nexclude = c->o.nexclude;
        sopts.max_parallel = c->o.jobs;
        sopts.progress = pf;
        sopts.progress_arg = parg;
        f = hf_hub_snapshot(c->hub, &ref, &sopts);
        rc = f ? settle(f) : EXIT_LOCAL_IO;
        progress_done(parg);
        if (rc == EXIT_OK)
            print_path(&c->o, hf_future_value(f), "snapshot");
    }
    hf_future_release(f);
    return rc;
}
