#include "vs_error.h"

#include <libvirt/virterror.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "vs_utf8.h"

static int vset(vs_error_t *err, int code, bool virt, const char *fmt,
                va_list ap) {
  if (!err)
    return code;
  vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
  /* whole UTF-8 characters only, also after the libvirt message */
  size_t len = vs_utf8_trim(err->msg);
  if (virt) {
    /* virGetLastErrorMessage() never returns NULL ("no error" when clear). */
    snprintf(err->msg + len, sizeof(err->msg) - len, ": %s",
             virGetLastErrorMessage());
    vs_utf8_trim(err->msg + len);
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
