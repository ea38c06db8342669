#include "vs_sink.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/vs_utf8.h"

void vs_sink_note(const vs_sink_t *sink, vs_severity_t sev, const char *host,
                  const char *plugin_instance, const char *type,
                  const char *type_instance, const char *fmt, ...) {
  vs_note_t n = {.severity = sev,
                 .host = host,
                 .plugin_instance = plugin_instance ? plugin_instance : "",
                 .type = type,
                 .type_instance = type_instance};
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(n.message, sizeof(n.message), fmt, ap);
  va_end(ap);
  /* A long domain name must not leave half a character at the end. */
  size_t len = strlen(n.message);
  n.message[vs_utf8_cut(n.message, len, len)] = '\0';
  sink->notify(sink->ud, &n);
}
