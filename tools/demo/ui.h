/*
 * ui.h - the demo's progress display: one bar per model (files, bytes, rate) redrawn in
 * place on a terminal, or one plain line per finished file and model otherwise.
 */
#ifndef HF_DEMO_UI_H
#define HF_DEMO_UI_H

#include <stddef.h>
#include <stdio.h>

#include "hfasync.h"

typedef struct ui ui_t;

/* A display of `n` models called `names` on `out`; `bars`: redraw in place. */
ui_t *ui_new(FILE *out, int bars, const char *const *names, size_t n);
/* The hf_progress_fn of model `i`: arg is the value of ui_arg(u, i). Thread-safe. */
void ui_progress(const hf_progress_t *p, void *arg);
void *ui_arg(ui_t *u, size_t i);
/* Model `i` has finished: `status` is a short word ("loaded", "failed: ..."). */
void ui_done(ui_t *u, size_t i, const char *status);
/* Start and stop the redraw thread (bars only; stop draws the final state). */
int ui_start(ui_t *u);
void ui_stop(ui_t *u);
void ui_free(ui_t *u);

#endif /* HF_DEMO_UI_H */
