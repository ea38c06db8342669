#include "vs_error.h"

#include <libvirt/virterror.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "vs_utf8.h"

/* Drop a character cut short at the end of msg (by the buffer's size or by
 * a caller that cut a name carelessly): messages end up in logs, JSON
 * reports and collectd notifications, which want whole UTF-8 characters. */
static size_t end_whole(char *msg) {
  size_t len = strlen(msg);
  len = vs_utf8_cut(msg, len, len);
  msg[len] = '\0';
  return len;
}

static int vset(vs_error_t *err, int code, bool virt, const char *fmt,
                va_list ap) {
  if (!err)
    return code;
  vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
  size_t len = end_whole(err->msg);
  if (virt) {
    /* virGetLastErrorMessage() never returns NULL ("no error" when clear). */
    snprintf(err->msg + len, sizeof(err->msg) - len, ": %s",
             virGetLastErrorMessage());
    end_whole(err->msg + len);
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
