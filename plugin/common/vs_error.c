#include "vs_error.h"

#include <libvirt/virterror.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int vset(vs_error_t *err, int code, bool virt, const char *fmt,
                va_list ap) {
  if (!err)
    return code;
  vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
  if (virt) {
    size_t len = strlen(err->msg);
    /* virGetLastErrorMessage() never returns NULL ("no error" when clear). */
    snprintf(err->msg + len, sizeof(err->msg) - len, ": %s",
             virGetLastErrorMessage());
  }
  err->code = code;
  return code;
}

int vs_error_set(vs_error_t *err, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vset(err, code, false, fmt, ap);
  va_end(ap);
  return code;
}

int vs_error_set_virt(vs_error_t *err, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vset(err, code, true, fmt, ap);
  va_end(ap);
  return code;
}

void vs_error_clear(vs_error_t *err) {
  if (!err)
    return;
  err->code = 0;
  err->msg[0] = '\0';
}
