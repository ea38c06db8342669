/* virtscale - error state kept on a context object.
 *
 * Library code never logs: a failing function stores a negative errno and a
 * message in a vs_error_t owned by its caller, and only the collectd glue (or
 * the helper's CLI) prints it. */
#pragma once

#include <stddef.h>

#define VS_ERROR_MSG_MAX 512

typedef struct {
  int code;                   /* negative errno, 0 when clear */
  char msg[VS_ERROR_MSG_MAX]; /* NUL-terminated, "" when clear */
} vs_error_t;

/* Store code and a printf-style message in err (NULL-safe). Returns code, so
 * callers can write `return vs_error_set(err, -EINVAL, "...")`. */
int vs_error_set(vs_error_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like vs_error_set() and appends ": <libvirt's last error on this thread>".
 * libvirt keeps the last error per thread, so call it on the failing thread. */
int vs_error_set_virt(vs_error_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clear err (NULL-safe). */
void vs_error_clear(vs_error_t *err);
