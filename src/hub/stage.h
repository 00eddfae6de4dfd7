/*
 * stage.h - a write stage: the bytes one body stream sends to consecutive offsets of a
 * file, gathered so that they reach the file in a few large pwrite()s.
 *
 * libcurl hands a body over in pieces of at most 16 KiB, and a pwrite() that small costs
 * half as much again per byte as one of 128 KiB (the system call and the file system's
 * per-call work: measured 0.33 against 0.22 ms of CPU per MiB into the page cache). The
 * stage copies each piece into its buffer (a memcpy from a buffer still in the cache) and
 * writes when the buffer is full, when a piece does not continue it, or when flushed.
 *
 * Contract: what a stage holds is not in the file yet. Whoever reads the file back, sizes
 * it or reports its bytes as written flushes the stage first; a stream's owner flushes it
 * when the stream ends, well or not (a retry resumes after the bytes it accepted). Not
 * thread-safe: one stream writes at a time, and the flush happens after its last write.
 */
#ifndef HFI_STAGE_H
#define HFI_STAGE_H

#include <stddef.h>
#include <stdint.h>

typedef struct hfi_stage {
    char *buf;                  /* allocated at the first write; NULL: none (yet) */
    size_t cap, len;            /* cap 0: every write goes straight to the file */
    uint64_t off;               /* the file offset of buf[0] */
    int writeback;              /* start writeback every HFI_WRITEBACK_STEP bytes */
} hfi_stage_t;

/* A stage of `cap` bytes (0: none; nothing is allocated before the first write). With
 * `writeback`, every write that crosses a multiple of HFI_WRITEBACK_STEP starts the step
 * just filled going to disk (hub/writeback.h). */
void hfi_stage_init(hfi_stage_t *s, size_t cap, int writeback);

/* Write `n` bytes for offset `off` of `fd`: into the stage, after writing out what it holds
 * if they do not continue it or do not fit. Without memory for the buffer, the bytes go
 * straight to the file. Returns 0, or -1 with errno set when a write failed (what was
 * staged is then dropped: the caller gives the stream up). */
int hfi_stage_write(hfi_stage_t *s, int fd, const void *p, size_t n, uint64_t off);

/* Write out what the stage holds and free its buffer (the next write allocates it again).
 * Returns 0, or -1 with errno set (the bytes are dropped). */
int hfi_stage_flush(hfi_stage_t *s, int fd);

/* Drop what the stage holds, unwritten, and free its buffer. */
void hfi_stage_drop(hfi_stage_t *s);

#endif /* HFI_STAGE_H */
