/*
 * writeback.c - platform glue for hfi_writeback_start. With sync_file_range (Linux, found
 * by configure) this file asks for GNU extensions; elsewhere it is a no-op, which is only
 * slower: durability comes from the fsync before the rename, never from this.
 */
#include "config.h"

#ifdef HAVE_SYNC_FILE_RANGE
#define _GNU_SOURCE 1
#include <fcntl.h>
#endif

#include "hub/writeback.h"

void hfi_writeback_start(int fd, uint64_t off, uint64_t len)
{
#ifdef HAVE_SYNC_FILE_RANGE
    (void)sync_file_range(fd, (off_t)off, (off_t)len, SYNC_FILE_RANGE_WRITE);
#else
    (void)fd;
    (void)off;
    (void)len;
#endif
}
