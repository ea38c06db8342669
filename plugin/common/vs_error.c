#include "vs_error.h"

#include <libvirt/virterror.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void vformat(vs_error_t *err, const char *fmt, va_list ap) {
  vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
}

int vs_error_set(vs_error_t *err, int code, const char *fmt, ...) {
  if (!err)
    return code;
  va_list ap;
  va_start(ap, fmt);
  vformat(err, fmt, ap);
  va_end(ap);
  err->code = code;
  return code;
}

int vs_error_set_virt(vs_error_t *err, int code, const char *fmt, ...) {
  if (!err)
    return code;
  va_list ap;
  va_start(ap, fmt);
  vformat(err, fmt, ap);
  va_end(ap);
  size_t len = strlen(err->msg);
  /* virGetLastErrorMessage() never returns NULL ("no error" when clear). */
  snprintf(err->msg + len, sizeof(err->msg) - len, ": %s",
           virGetLastErrorMessage());
  err->code = code;
  return code;
}

void vs_error_clear(vs_error_t *err) {
  if (!err)
    return;
  err->code = 0;
  err->msg[0] = '\0';
}
