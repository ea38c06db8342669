/* virtscale-start - collectd's unixsock protocol: command lines and a
 * client with I/O timeouts.
 *
 * Hand-written rather than libcollectdclient because that library (5.12)
 * has no PUTNOTIF, no I/O timeouts (a collectd that stops reading hangs the
 * caller for ever) and holds identifier fields in 64 bytes (LCC_NAME_LEN)
 * while collectd holds 128: a VM name over 63 bytes would be cut silently.
 *
 * Quoting follows collectd's parse_string(): a field in double quotes, with
 * a backslash before every '"' and '\'. collectd reads commands with
 * fgets() into 1024 bytes, so a line longer than VS_UNIXSOCK_LINE_MAX is
 * split into two commands: builders refuse (PUTVAL) or shorten the message
 * (PUTNOTIF) instead. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/vs_error.h"

/* Longest command line collectd reads whole, without the newline. */
#define VS_UNIXSOCK_LINE_MAX 1022

/* Write s as a quoted unixsock string into dst (size bytes). Control
 * characters become spaces (a newline would end the command). Returns the
 * length written (without NUL) or -E2BIG. */
int vs_unixsock_quote(char *dst, size_t size, const char *s);

/* Identifier of a value. host and the instances are used as given (make
 * them safe with vs_idfield() first); empty instances are left out. */
typedef struct {
  const char *host, *plugin, *plugin_instance, *type, *type_instance;
} vs_unixsock_ident_t;

/* Build `PUTVAL "host/plugin[-pinst]/type[-tinst]" interval=I TIME:VALUE`
 * (no newline) into dst; interval <= 0 leaves the option out (collectd's
 * own interval then). time is seconds since the epoch. Returns the length
 * or -E2BIG when it would not fit in size or in VS_UNIXSOCK_LINE_MAX. */
int vs_unixsock_putval(char *dst, size_t size, const vs_unixsock_ident_t *id,
                       double interval, double time, double value);

/* Build `PUTNOTIF severity=S time=T host="..." plugin="..." ...
 * message="..."`; severity is "failure", "warning" or "okay". A message
 * that would not fit is cut (at a UTF-8 boundary, marked with "...").
 * Returns the length or -E2BIG (the identifier alone does not fit). */
int vs_unixsock_putnotif(char *dst, size_t size, const char *severity,
                         double time, const vs_unixsock_ident_t *id,
                         const char *message);

/* A reply line: "<status> <message>". status < 0 is an error; status > 0
 * announces that many more lines. */
typedef struct {
  int status;
  char message[256];
} vs_unixsock_reply_t;

/* Parse one reply line (without newline). Returns 0 or -EPROTO. */
int vs_unixsock_parse_reply(const char *line, vs_unixsock_reply_t *ret);

/* A connection to collectd's unixsock plugin. Owned by one thread. */
typedef struct {
  int fd;              /* -1 when closed */
  uint64_t timeout_ns; /* per command; --socket-timeout allows 1e7 s */
  char buf[4096];      /* received, not yet consumed */
  size_t len;
} vs_unixsock_t;

/* Connect to the socket at path; every later send and receive gives up
 * after timeout_s. Returns 0 or a negative errno with err set (-ENOENT:
 * no socket, -ECONNREFUSED: nobody listening). */
int vs_unixsock_connect(vs_unixsock_t *c, const char *path, double timeout_s,
                        vs_error_t *err);

/* Send one command line (newline added) and read its reply (and discard
 * any announced extra lines). Returns 0 when collectd accepted it,
 * -EPROTO when it answered with an error (err has its message; the
 * connection stays usable), or another negative errno when the connection
 * failed or timed out (then closed: the command may or may not have been
 * taken). */
int vs_unixsock_command(vs_unixsock_t *c, const char *line,
                        vs_unixsock_reply_t *reply, vs_error_t *err);

/* Close (NULL-safe, idempotent). */
void vs_unixsock_close(vs_unixsock_t *c);
