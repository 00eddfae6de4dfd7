/*
 * cmd_cache.c - hf-fetch scan-cache, verify and rm: the cache, without the network.
 */
#include "config.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fetch.h"

static void print_json(cJSON *j)
{
    char *s = cJSON_PrintUnformatted(j);
    printf("%s\n", s);
    cJSON_free(s);
    cJSON_Delete(j);
}

static const char *when(int64_t t, char buf[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!t || !gmtime_r(&tt, &tm))
        return "-";
    strftime(buf, 32, "%Y-%m-%d %H:%M", &tm);
    return buf;
}

int cmd_scan_cache(fetch_ctx_t *c)
{
    hf_cache_report_t *r;
    hf_error_t err;
    char b1[32], b2[32];

    memset(&err, 0, sizeof err);
    if (hf_cache_scan(hf_hub_cache_dir(c->hub), &r, &err) < 0) {
        if (err.code == HF_ENOENT && c->o.json) {      /* no cache yet: an empty report */
            cJSON *j = cJSON_CreateObject();
            cJSON_AddArrayToObject(j, "repos");
            cJSON_AddStringToObject(j, "cache_dir", hf_hub_cache_dir(c->hub));
            cJSON_AddNumberToObject(j, "size_on_disk", 0);
            cJSON_AddArrayToObject(j, "warnings");
            print_json(j);
            return EXIT_OK;
        }
        if (err.code == HF_ENOENT) {
            printf("cache %s is empty (it does not exist yet)\n", hf_hub_cache_dir(c->hub));
            return EXIT_OK;
        }
        return fetch_fail(&err);
    }
    if (c->o.json) {
        cJSON *j = cJSON_CreateObject(), *repos = cJSON_AddArrayToObject(j, "repos"), *w;
        cJSON_AddStringToObject(j, "cache_dir", hf_hub_cache_dir(c->hub));
        cJSON_AddNumberToObject(j, "size_on_disk", (double)r->size_on_disk);
        for (size_t i = 0; i < r->nrepos; i++) {
            const hf_cached_repo_t *p = &r->repos[i];
            cJSON *o = cJSON_CreateObject(), *revs = NULL;
            size_t nfiles = 0, nrefs = 0;
            cJSON_AddStringToObject(o, "repo_id", p->repo_id);
            cJSON_AddStringToObject(o, "type", hf_repo_type_name(p->type));
            cJSON_AddNumberToObject(o, "size_on_disk", (double)p->size_on_disk);
            revs = cJSON_AddArrayToObject(o, "revisions");
            for (size_t k = 0; k < p->nrevisions; k++) {
                cJSON *rv = cJSON_CreateObject(), *refs = cJSON_AddArrayToObject(rv, "refs");
                cJSON_AddStringToObject(rv, "commit", p->revisions[k].commit);
                cJSON_AddNumberToObject(rv, "files", (double)p->revisions[k].nfiles);
                cJSON_AddNumberToObject(rv, "size", (double)p->revisions[k].size);
                for (size_t m = 0; m < p->revisions[k].nrefs; m++)
                    cJSON_AddItemToArray(refs, cJSON_CreateString(p->revisions[k].refs[m]));
                cJSON_AddItemToArray(revs, rv);
                nfiles += p->revisions[k].nfiles;
                nrefs += p->revisions[k].nrefs;
            }
            cJSON_AddNumberToObject(o, "files", (double)nfiles);
            cJSON_AddNumberToObject(o, "refs", (double)nrefs);
            cJSON_AddNumberToObject(o, "last_modified", (double)p->last_modified);
            cJSON_AddItemToArray(repos, o);
        }
        w = cJSON_AddArrayToObject(j, "warnings");
        for (size_t i = 0; i < r->nwarnings; i++)
            cJSON_AddItemToArray(w, cJSON_CreateString(r->warnings[i]));
        print_json(j);
    } else {
        printf("%-48s %-7s %10s %6s %-24s %s\n", "REPO ID", "TYPE", "SIZE", "FILES", "REFS",
               "LAST MODIFIED");
        for (size_t i = 0; i < r->nrepos; i++) {
            const hf_cached_repo_t *p = &r->repos[i];
            char refs[256] = "";
            size_t nfiles = 0;
            for (size_t k = 0; k < p->nrevisions; k++) {
                nfiles += p->revisions[k].nfiles;
                for (size_t m = 0; m < p->revisions[k].nrefs; m++) {
                    if (refs[0])
                        strncat(refs, ",", sizeof refs - strlen(refs) - 1);
                    strncat(refs, p->revisions[k].refs[m], sizeof refs - strlen(refs) - 1);
                }
            }
            printf("%-48s %-7s %10s %6zu %-24s %s\n", p->repo_id, hf_repo_type_name(p->type),
                   human_size(p->size_on_disk, b1), nfiles, refs[0] ? refs : "-",
                   when(p->last_modified, b2));
        }
        printf("\n%zu repo(s), %s on disk in %s\n", r->nrepos, human_size(r->size_on_disk, b1),
               hf_hub_cache_dir(c->hub));
        for (size_t i = 0; i < r->nwarnings; i++)
            fprintf(stderr, "warning: %s\n", r->warnings[i]);
    }
    hf_cache_report_free(r);
    return EXIT_OK;
}

static void print_bad(const char *blob, void *arg)
{
    (void)arg;
    fprintf(stderr, "corrupt blob: %s\n", blob);
}

int cmd_verify(fetch_ctx_t *c)
{
    hf_error_t err;
    size_t bad = 0;
    int n;

    memset(&err, 0, sizeof err);
    n = hf_cache_verify(hf_hub_cache_dir(c->hub), c->o.repo_type, c->o.repo, &bad, print_bad,
                        NULL, &err);
    if (n < 0)
        return fetch_fail(&err);
    if (c->o.json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "repo_id", c->o.repo);
        cJSON_AddNumberToObject(j, "checked", n);
        cJSON_AddNumberToObject(j, "bad", (double)bad);
        print_json(j);
    } else
        printf("%s: %d blob(s) checked, %zu corrupt\n", c->o.repo, n, bad);
    return bad ? EXIT_INTEGRITY : EXIT_OK;
}

int cmd_rm(fetch_ctx_t *c)
{
    hf_error_t err;
    int64_t freed;
    char buf[32];

    memset(&err, 0, sizeof err);
    freed = hf_cache_remove(hf_hub_cache_dir(c->hub), c->o.repo_type, c->o.repo, c->o.revision, &err);
    if (freed < 0)
        return fetch_fail(&err);
    if (c->o.json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "repo_id", c->o.repo);
        cJSON_AddNumberToObject(j, "freed", (double)freed);
        print_json(j);
    } else
        printf("removed %s%s%s, freed %s\n", c->o.repo, c->o.revision ? " revision " : "",
               c->o.revision ? c->o.revision : "", human_size((unsigned long long)freed, buf));
    return EXIT_OK;
}
