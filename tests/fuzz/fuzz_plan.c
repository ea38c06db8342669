/* Fuzzes the start plan parser (vs_start_plan_parse(), what --plan FILE
 * runs): any bytes as a plan file. Beyond memory safety it checks what the
 * parser promises: a refused plan has an error naming the file, line and
 * column; an accepted one has groups and targets that belong to them. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vs_start_plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  vs_start_opts_t opts = {0};
  vs_error_t err = {0};
  int r =
      vs_start_plan_parse((const char *)data, size, "fuzz.json", &opts, &err);
  if (r < 0) {
    if (err.code != r)
      abort();
    if (r != -ENOMEM && strncmp(err.msg, "fuzz.json:", 10) != 0)
      abort(); /* every refusal says where */
  } else {
    if (r != 0 || opts.n_groups == 0 || opts.n_targets == 0)
      abort();
    for (size_t i = 0; i < opts.n_targets; i++)
      if (!opts.targets[i].name || !*opts.targets[i].name ||
          opts.targets[i].group >= opts.n_groups)
        abort();
  }
  vs_start_opts_free(&opts);
  return 0;
}
