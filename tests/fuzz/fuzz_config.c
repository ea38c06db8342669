/* Fuzz harness: the <Plugin virtscale> block translation (vs_config.c), fed
 * as the collectd glue feeds it (one vs_config_set() per "Key values..."
 * line, then vs_config_finish()), and the filters it builds matched as the
 * read path matches them.
 *
 * Input: a sequence of lines, each
 *   K       key: K < 0xF0 picks vs_config_key(K % count) (a real key, so the
 *           fuzzer gets past the key lookup); otherwise a string follows
 *   N       number of values (N % 8)
 *   N x     T value, by T % 4:
 *             0 string, as vs_fuzz_take_string() reads it
 *             1 number: 8 bytes, a double as is (NaN, infinities)
 *             2 boolean: one byte
 *             3 number: 2 bytes, little-endian, / 4 (0 .. 16383.75: often
 *               within a key's bounds)
 * A truncated input ends the line list. Every value, and the value array,
 * lives in its own allocation of exactly its size.
 *
 * Checked beyond memory safety: a failed line returns -EINVAL or -ENOMEM
 * with a message and leaves the configuration as it was (vs_config.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "vs_config.h"
#include "vs_filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LINES 64
#define MAX_VALUES 8

static size_t key_count(void) {
  size_t n = 0;
  while (vs_config_key(n))
    n++;
  return n;
}

/* The configuration with the filters' entry arrays left out: a failed
 * vs_filter_add may have moved an array it then truncated back. */
static void snapshot(const vs_config_t *cfg, vs_config_t *out) {
  memcpy(out, cfg, sizeof(*out));
  out->domains.entries = NULL;
  out->block_devs.entries = NULL;
  out->if_devs.entries = NULL;
}

static void check_failure(int r, const vs_error_t *err,
                          const vs_config_t *before, const vs_config_t *cfg) {
  if (r != -EINVAL && r != -ENOMEM) {
    fprintf(stderr, "vs_config_set returned %d\n", r);
    abort();
  }
  if (err->code != r || err->msg[0] == '\0') {
    fprintf(stderr, "failure %d without its error (code %d, \"%s\")\n", r,
            err->code, err->msg);
    abort();
  }
  vs_config_t after;
  snapshot(cfg, &after);
  if (memcmp(before, &after, sizeof(after)) != 0) {
    fprintf(stderr, "a refused line changed the configuration: %s\n", err->msg);
    abort();
  }
}

/* One line; false when the input ran out. */
static bool apply_line(vs_fuzz_input_t *in, vs_config_t *cfg, size_t nkeys) {
  uint8_t k, nv;
  if (!vs_fuzz_take(in, &k, 1))
    return false;
  char *own_key = NULL;
  const char *key;
  if (k < 0xF0) {
    key = vs_config_key(k % nkeys);
  } else {
    if (!(own_key = vs_fuzz_take_string(in)))
      return false;
    key = own_key;
  }
  if (!vs_fuzz_take(in, &nv, 1)) {
    free(own_key);
    return false;
  }
  size_t n = nv % MAX_VALUES;
  vs_conf_value_t *v = malloc(n * sizeof(*v) + (n == 0));
  char *strings[MAX_VALUES] = {0};
  if (!v)
    abort();
  bool ok = true;
  for (size_t i = 0; i < n && ok; i++) {
    uint8_t t, b = 0;
    uint8_t u16[2] = {0};
    memset(&v[i], 0, sizeof(v[i]));
    if (!(ok = vs_fuzz_take(in, &t, 1)))
      break;
    switch (t % 4) {
    case 0:
      v[i].type = VS_CONF_STRING;
      ok = (strings[i] = vs_fuzz_take_string(in)) != NULL;
      v[i].string = strings[i];
      break;
    case 1:
      v[i].type = VS_CONF_NUMBER;
      ok = vs_fuzz_take(in, &v[i].number, sizeof(v[i].number));
      break;
    case 2:
      v[i].type = VS_CONF_BOOLEAN;
      ok = vs_fuzz_take(in, &b, 1);
      v[i].boolean = b & 1;
      break;
    default:
      v[i].type = VS_CONF_NUMBER;
      ok = vs_fuzz_take(in, u16, 2);
      v[i].number = ((unsigned)u16[0] | (unsigned)u16[1] << 8) / 4.0;
      break;
    }
  }
  if (ok) {
    vs_config_t before;
    vs_error_t err = {0};
    snapshot(cfg, &before);
    int r = vs_config_set(cfg, key, v, n, &err);
    if (r != 0)
      check_failure(r, &err, &before, cfg);
  }
  for (size_t i = 0; i < n; i++)
    free(strings[i]);
  free(v);
  free(own_key);
  return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static size_t nkeys;
  if (!nkeys)
    nkeys = key_count();
  vs_fuzz_input_t in = {data, size};
  vs_config_t cfg;
  vs_config_init(&cfg);
  for (unsigned i = 0; i < MAX_LINES && apply_line(&in, &cfg, nkeys); i++)
    ;
  vs_error_t err = {0};
  if (vs_config_finish(&cfg, &err) == 0) {
    /* The read path matches every device by "dev" and "domain:dev". */
    const char *names[] = {"vda", "fuzz-domain:vda"};
    const char *one[] = {"fuzz-domain"};
    (void)vs_filter_selects(&cfg.domains, one, 1);
    (void)vs_filter_selects(&cfg.block_devs, names, 2);
    (void)vs_filter_selects(&cfg.if_devs, names, 2);
  } else if (err.code != -EINVAL || err.msg[0] == '\0') {
    abort();
  }
  vs_config_clear(&cfg);
  return 0;
}
