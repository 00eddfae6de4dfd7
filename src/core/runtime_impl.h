/*
 * runtime_impl.h - the runtime object and the process-wide list of runtimes (for fork).
 */
#ifndef HFI_RUNTIME_IMPL_H
#define HFI_RUNTIME_IMPL_H

#include "core/compute.h"
#include "core/io.h"

struct hf_runtime {
    hfi_compute_t *compute;
    hfi_io_t *io;
    uint64_t id;                /* unique in the process, never reused (addresses are) */
    struct hf_runtime *next;    /* in the registry, under its mutex (fork.c) */
};

/* The runtime's unique id (1, 2, ...: the order of creation). */
uint64_t hfi_runtime_id(const hf_runtime_t *rt);

/* fork.c */
void hfi_fork_handlers_install(void);
void hfi_registry_add(hf_runtime_t *rt);
/* Returns non-zero if other runtimes remain. */
int hfi_registry_remove(hf_runtime_t *rt);

#endif /* HFI_RUNTIME_IMPL_H */
