/* virtscale-start - what the user sees: live progress on a terminal, plain
 * lines otherwise, and the summary table at the end. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "vs_start_batch.h"
#include "vs_start_opts.h"

typedef struct {
  vs_progress_mode_t mode; /* resolved: TTY, PLAIN or NONE */
  FILE *f;
  bool line_shown; /* TTY: a status line is on screen */
} vs_progress_t;

/* Resolve mode (AUTO: TTY when f is a terminal) and set p up. */
void vs_progress_init(vs_progress_t *p, vs_progress_mode_t mode, FILE *f);

/* Batch progress (counts per state): TTY redraws one status line with an
 * ETA; PLAIN prints a line when changed is true. */
void vs_progress_update(vs_progress_t *p, const vs_batch_t *b,
                        const size_t *counts, bool changed);

/* VM i finished: one line with its timings or its error. */
void vs_progress_vm_done(vs_progress_t *p, const vs_batch_t *b, size_t i);

/* Clear the status line. */
void vs_progress_end(vs_progress_t *p);

/* The summary table: every VM, the phase statistics, the batch figures
 * and each failure with libvirt's message. */
void vs_progress_summary(FILE *f, const vs_batch_t *b);
