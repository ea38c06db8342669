#include "vs_sink.h"

#include <stdarg.h>
#include <stdio.h>

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
  vs_utf8_trim(n.message); /* a long domain name: no half character */
  sink->notify(sink->ud, &n);
}
