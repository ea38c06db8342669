/* virtscale - "a call is still out there": a flag shared between the read
 * thread and a job that may be abandoned. The job holds a reference and
 * clears the flag when its libvirt call returns; the owner checks it before
 * sending another call the same way. Lock-free, so an abandoned worker holds
 * no lock while it touches it. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

typedef struct {
  atomic_uint refs;
  atomic_bool busy;
} vs_token_t;

/* A new token (busy = false) with one reference, or NULL (ENOMEM). */
static inline vs_token_t *vs_token_new(void) {
  vs_token_t *t = malloc(sizeof(*t));
  if (t) {
    atomic_init(&t->refs, 1);
    atomic_init(&t->busy, false);
  }
  return t;
}

static inline vs_token_t *vs_token_ref(vs_token_t *t) {
  atomic_fetch_add(&t->refs, 1);
  return t;
}

static inline void vs_token_unref(vs_token_t *t) {
  if (t && atomic_fetch_sub(&t->refs, 1) == 1)
    free(t);
}

static inline bool vs_token_busy(const vs_token_t *t) {
  return t && atomic_load(&t->busy);
}

static inline void vs_token_set(vs_token_t *t, bool busy) {
  atomic_store(&t->busy, busy);
}
