/* virtscale - where the plugin's notifications go. The bottom of the plugin
 * layer: plain data, no libvirt and no collectd types. The collectd glue
 * implements it with plugin_dispatch_notification(). */
#pragma once

typedef enum {
  VS_NOTE_FAILURE = 1, /* collectd's NOTIF_FAILURE, NOTIF_WARNING, NOTIF_OKAY */
  VS_NOTE_WARNING = 2,
  VS_NOTE_OKAY = 4,
} vs_severity_t;

/* A notification for collectd. */
typedef struct {
  vs_severity_t severity;
  const char *host;            /* NULL: the hypervisor (collectd's Hostname) */
  const char *plugin_instance; /* "" when none */
  const char *type, *type_instance;
  char message[256];
} vs_note_t;

/* Called from the read thread and the event loop thread: notify must be
 * thread-safe (collectd's plugin_dispatch_notification() is). */
typedef struct {
  void *ud;
  void (*notify)(void *ud, const vs_note_t *n);
} vs_sink_t;

/* Format a notification (message from fmt) and hand it to sink->notify. A
 * NULL host is the hypervisor's, a NULL plugin instance is empty. */
void vs_sink_note(const vs_sink_t *sink, vs_severity_t sev, const char *host,
                  const char *plugin_instance, const char *type,
                  const char *type_instance, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
