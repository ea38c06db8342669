/* virtscale unit tests - fixture files and inline typed parameters.
 *
 * tests/fixtures/bulk_qemu.records holds bulk statistics records captured
 * from real QEMU domains (tests/tools/capture_fixtures.py). Format:
 *   # comment
 *   record NAME
 *   FIELD TYPE VALUE      TYPE: int uint llong ullong double boolean string
 *   end
 * VALUE is the rest of the line. Any other line is an error: the loader
 * never skips what it does not understand, so a damaged fixture fails the
 * test instead of silently testing less. */
#pragma once

#include <libvirt/libvirt.h>
#include <stddef.h>

#include "vs_stats_parse.h"

typedef struct {
  char *name;                /* record NAME; owned */
  virTypedParameter *params; /* strings in value.s are owned */
  int nparams;
} vs_fx_record_t;

typedef struct {
  vs_fx_record_t *records; /* in file order; owned */
  size_t n;
} vs_fx_set_t;

/* Parse fixture text into ret (zeroed by the caller). origin names the text
 * in messages. Returns 0, or -EINVAL / -ENOMEM with "origin:LINE: problem"
 * in msg; ret is left empty on failure. */
int vs_fx_parse(const char *text, const char *origin, vs_fx_set_t *ret,
                char *msg, size_t msg_size);

/* Free what set owns and zero it (NULL-safe). */
void vs_fx_free(vs_fx_set_t *set);

/* Contents of VS_FIXTURE_DIR/file, NUL-terminated; caller frees. Fails the
 * running test when the file cannot be read. */
char *vs_fx_read(const char *file);

/* vs_fx_read() + vs_fx_parse(); any problem fails the running test. */
void vs_fx_load(const char *file, vs_fx_set_t *ret);

/* The record called name; fails the running test when there is none. */
const vs_fx_record_t *vs_fx_find(const vs_fx_set_t *set, const char *name);

/* vs_domain_stats_parse() of record name into st (zeroed by the caller);
 * fails the running test when the record is missing or does not parse. */
void vs_fx_stats(const vs_fx_set_t *set, const char *name,
                 vs_domain_stats_t *st);

/* Inline typed parameters for cases the captured fixture lacks. */
#define VS_TP_INT(f, v)                                                        \
  {                                                                            \
    .field = f, .type = VIR_TYPED_PARAM_INT, .value = {.i = (v) }              \
  }
#define VS_TP_UINT(f, v)                                                       \
  {                                                                            \
    .field = f, .type = VIR_TYPED_PARAM_UINT, .value = {.ui = (v) }            \
  }
#define VS_TP_LLONG(f, v)                                                      \
  {                                                                            \
    .field = f, .type = VIR_TYPED_PARAM_LLONG, .value = {.l = (v) }            \
  }
#define VS_TP_ULL(f, v)                                                        \
  {                                                                            \
    .field = f, .type = VIR_TYPED_PARAM_ULLONG, .value = {.ul = (v) }          \
  }
#define VS_TP_DOUBLE(f, v)                                                     \
  {                                                                            \
    .field = f, .type = VIR_TYPED_PARAM_DOUBLE, .value = {.d = (v) }           \
  }
#define VS_TP_BOOL(f, v)                                                       \
  {                                                                            \
    .field = f, .type = VIR_TYPED_PARAM_BOOLEAN, .value = {.b = (v) }          \
  }
/* The parser only reads value.s; the cast drops const for the union. */
#define VS_TP_STR(f, v)                                                        \
  {                                                                            \
    .field = f, .type = VIR_TYPED_PARAM_STRING, .value = {.s = (char *)(v) }   \
  }

#define VS_NELEM(a) (sizeof(a) / sizeof((a)[0]))
