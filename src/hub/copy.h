/*
 * copy.h - a blob copied into the snapshot folder (HF_HUB_DISABLE_SYMLINKS, or a file
 * system without symlinks): the copy appears at its path whole, or not at all.
 */
#ifndef HFI_COPY_H
#define HFI_COPY_H

#include "hf/error.h"

/*
 * hfi_copy_file - copy the file `from` to `to` (replacing what is there, a symlink
 * included, which is never written through), synced before it gets its name, so that no
 * reader sees part of it.
 *
 * Where the platform allows (Linux: O_TMPFILE and /proc/self/fd), the copy is written as
 * an unnamed file and linked in when complete: a process killed meanwhile leaves nothing
 * behind. Replacing an existing `to` links it under a temporary name first and renames
 * that over `to` (a window of two system calls). Elsewhere the copy is written under
 * `<to>.<pid>.copy` and renamed. The bytes move with copy_file_range where configure
 * found it (no copy through user memory; a reflink on file systems that share extents),
 * else with read/write.
 *
 * Returns 0, HF_ENOMEM, or HF_EIO (in *err, with the path and the system's reason).
 */
int hfi_copy_file(const char *from, const char *to, hf_error_t *err);

/* Test hook: nonzero makes hfi_copy_file use only the portable path (named temporary file,
 * read/write), so that tests on Linux cover it too. Process-wide. */
void hfi_copy_test_portable(int on);

#endif /* HFI_COPY_H */
