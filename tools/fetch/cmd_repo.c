/*
 * cmd_repo.c - hf-fetch info and ls: what a repo holds, from the Hub's API.
 */
#include "config.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "fetch.h"

static int wait_ok(hf_future_t *f)
{
    int rc;
    if (!f)
        return EXIT_LOCAL_IO;
    if ((rc = fetch_wait(f)) != 0)
        return rc;
    return hf_future_state(f) == HF_FUTURE_FULFILLED ? EXIT_OK : fetch_fail(hf_future_error(f));
}

static cJSON *file_json(const hf_repo_file_t *f)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "path", f->path);
    cJSON_AddNumberToObject(o, "size", (double)f->size);
    cJSON_AddBoolToObject(o, "lfs", f->is_lfs);
    if (f->oid[0])
        cJSON_AddStringToObject(o, "oid", f->oid);
    if (f->is_lfs)
        cJSON_AddStringToObject(o, "sha256", f->lfs_sha256);
    return o;
}

static void print_json(cJSON *j)
{
    char *s = cJSON_PrintUnformatted(j);
    printf("%s\n", s);
    cJSON_free(s);
    cJSON_Delete(j);
}

int cmd_info(fetch_ctx_t *c)
{
    hf_file_ref_t ref = { c->o.repo, c->o.repo_type, c->o.revision, NULL };
    hf_future_t *f = hf_hub_repo_info(c->hub, &ref);
    const hf_repo_info_t *ri;
    int rc = wait_ok(f);
    char buf[32];

    if (rc == EXIT_OK) {
        ri = hf_future_value(f);
        if (c->o.json) {
            cJSON *j = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(j, "files");
            cJSON_AddStringToObject(j, "id", ri->id ? ri->id : c->o.repo);
            cJSON_AddStringToObject(j, "type", hf_repo_type_name(c->o.repo_type));
            cJSON_AddStringToObject(j, "revision", c->o.revision ? c->o.revision : "main");
            cJSON_AddStringToObject(j, "sha", ri->sha);
            cJSON_AddBoolToObject(j, "private", ri->is_private);
            cJSON_AddBoolToObject(j, "gated", ri->gated);
            for (size_t i = 0; i < ri->nfiles; i++)
                cJSON_AddItemToArray(arr, file_json(&ri->files[i]));
            print_json(j);
        } else {
            unsigned long long total = 0;
            for (size_t i = 0; i < ri->nfiles; i++)
                total += ri->files[i].size;
            printf("id:       %s (%s)\nrevision: %s\ncommit:   %s\nprivate:  %s\ngated:    %s\n"
                   "files:    %zu (%s)\n",
                   ri->id ? ri->id : c->o.repo, hf_repo_type_name(c->o.repo_type),
                   c->o.revision ? c->o.revision : "main", ri->sha, ri->is_private ? "yes" : "no",
                   ri->gated ? "yes" : "no", ri->nfiles, human_size(total, buf));
            for (size_t i = 0; i < ri->nfiles; i++)
                printf("  %s\n", ri->files[i].path);
        }
    }
    hf_future_release(f);
    return rc;
}

int cmd_ls(fetch_ctx_t *c)
{
    hf_file_ref_t ref = { c->o.repo, c->o.repo_type, c->o.revision,
                          c->o.nfiles ? c->o.files[0] : NULL };
    hf_future_t *f = hf_hub_list_files(c->hub, &ref);
    int rc = wait_ok(f);

    if (rc == EXIT_OK) {
        const hf_file_list_t *l = hf_future_value(f);
        if (c->o.json) {
            cJSON *arr = cJSON_CreateArray();
            for (size_t i = 0; i < l->n; i++)
                cJSON_AddItemToArray(arr, file_json(&l->files[i]));
            print_json(arr);
        } else {
            char buf[32];
            for (size_t i = 0; i < l->n; i++)
                printf("%10s  %-3s  %s\n", human_size(l->files[i].size, buf),
                       l->files[i].is_lfs ? "lfs" : "", l->files[i].path);
        }
    }
    hf_future_release(f);
    return rc;
}
