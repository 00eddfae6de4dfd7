/*
 * relutil.h - what the reliability suites share: seeded pseudo-random content and trial
 * plans, blob names for given bytes, a cache auditor, and dl_child (a download in another
 * process) started, waited for and read back.
 *
 * The suites run a reduced number of trials by default and the full one when HF_LONG=1
 * (`make check-long`); HF_SEED=N replaces the fixed seed. Both are printed.
 */
#ifndef HF_TEST_RELUTIL_H
#define HF_TEST_RELUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* HF_LONG=1 in the environment: run the full form. */
int rel_long(void);
/* `reduced` or `full` trials (by rel_long()). */
unsigned rel_trials(unsigned reduced, unsigned full);
/* The seed ($HF_SEED, else `fixed`), printed with the suite's name. */
uint32_t rel_seed(const char *suite, uint32_t fixed);
/* xorshift32; *state must not be 0. */
uint32_t rel_rand(uint32_t *state);
/* `n` bytes of pseudo-random content (malloc'd). */
unsigned char *rel_pattern(size_t n, uint32_t seed);
/* The blob name the Hub gives `data`: sha256 if `lfs`, else git's blob sha1. */
void rel_etag(const void *data, size_t n, int lfs, char out[65]);

/* A fresh folder /tmp/hfasync-<tag>-XXXXXX (malloc'd); rel_rmtree removes a tree. */
char *rel_tmpdir(const char *tag);
void rel_rmtree(const char *dir);
/* Write `n` bytes of `data` to `path`, making the folders above it. */
void rel_write_file(const char *path, const void *data, size_t n);
/* The size of `path`, or -1 if it does not exist. */
long long rel_file_size(const char *path);

/* What a cache holds that it should not. */
typedef struct rel_audit {
    unsigned blobs;             /* blobs/<etag>, re-hashed */
    unsigned corrupt;           /* ... whose bytes do not hash to their name */
    unsigned partials;          /* blobs/<etag>.incomplete, or .incomplete.ranged (resumable) */
    unsigned bad_partials;      /* ... that are not a prefix of the blob (when known; for a
                                   ranged one, the prefix its .done records) */
    unsigned links;             /* symlinks under snapshots/ */
    unsigned stray;             /* anything else: temporary files, files in snapshots/ */
    unsigned held_locks;        /* lock files someone still holds */
} rel_audit_t;

/* The content of blob `etag`, if the caller knows it (NULL otherwise): partial files are
 * then checked to be prefixes of it. */
typedef const unsigned char *(*rel_content_fn)(const char *etag, size_t *n, void *arg);

/* Walk `cache` and fill *out; every finding is printed to stderr. */
void rel_audit(const char *cache, rel_content_fn content, void *arg, rel_audit_t *out);

/* Audit `cache` and fail the test unless it holds exactly `blobs` blobs (all hashing to
 * their names) and `links` snapshot links, and no partial, stray or locked file. */
void rel_expect_clean(const char *cache, unsigned blobs, unsigned links);

/* dl_child: start `args` (argv[0] is filled in with the helper's path; NULL-terminated)
 * with its stdout and stderr going to `out_path`; `keep_fd` (or -1) stays open in it. */
pid_t rel_spawn(const char **args, const char *out_path, int keep_fd);
/* Wait for `pid`: its exit status, or 128 + the signal that ended it. */
int rel_wait(pid_t pid);
/* The file at `path` as a NUL-terminated string (malloc'd; "" if absent). */
char *rel_slurp(const char *path);
/* A "key <n>" number in a dl_child transcript, or -1. */
long long rel_transcript_num(const char *text, const char *key);

#endif /* HF_TEST_RELUTIL_H */
