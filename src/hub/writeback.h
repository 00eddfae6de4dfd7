/*
 * writeback.h - start writing a file's dirty pages to disk early, so that the fsync before
 * a blob is committed finds little left to do.
 */
#ifndef HF_HUB_WRITEBACK_H
#define HF_HUB_WRITEBACK_H

#include <stdint.h>

/* Bytes between two writeback requests of one stream of writes. */
#define HFI_WRITEBACK_STEP (8u << 20)

/*
 * hfi_writeback_start - ask the kernel to start writing bytes [off, off + len) of `fd` to
 * disk without waiting (Linux: sync_file_range with SYNC_FILE_RANGE_WRITE, where configure
 * found it). Elsewhere, or on error, nothing happens: the fsync still does all the work.
 */
void hfi_writeback_start(int fd, uint64_t off, uint64_t len);

#endif /* HF_HUB_WRITEBACK_H */
