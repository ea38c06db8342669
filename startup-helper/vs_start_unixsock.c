#include "vs_start_unixsock.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/vs_time.h"
#include "common/vs_utf8.h"
#include "vs_start_opts.h"

int vs_unixsock_quote(char *dst, size_t size, const char *s) {
  size_t o = 0;
  if (size < 3)
    return -E2BIG;
  dst[o++] = '"';
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    unsigned char c = *p;
    if (c == '"' || c == '\\') {
      if (o + 2 >= size)
        return -E2BIG;
      dst[o++] = '\\';
      dst[o++] = (char)c;
    } else {
      if (o + 1 >= size)
        return -E2BIG;
      dst[o++] = (c < 0x20 || c == 0x7F) ? ' ' : (char)c;
    }
  }
  if (o + 2 > size)
    return -E2BIG;
  dst[o++] = '"';
  dst[o] = '\0';
  return (int)o;
}

/* "host/plugin[-pinst]/type[-tinst]" unquoted into dst. */
static int ident_string(char *dst, size_t size, const vs_unixsock_ident_t *id) {
  bool pi = id->plugin_instance && *id->plugin_instance;
  bool ti = id->type_instance && *id->type_instance;
  int n = snprintf(dst, size, "%s/%s%s%s/%s%s%s", id->host, id->plugin,
                   pi ? "-" : "", pi ? id->plugin_instance : "", id->type,
                   ti ? "-" : "", ti ? id->type_instance : "");
  return n < 0 || (size_t)n >= size ? -E2BIG : n;
}

int vs_unixsock_putval(char *dst, size_t size, const vs_unixsock_ident_t *id,
                       double interval, double time, double value) {
  char ident[1024], quoted[2100];
  if (ident_string(ident, sizeof(ident), id) < 0 ||
      vs_unixsock_quote(quoted, sizeof(quoted), ident) < 0)
    return -E2BIG;
  char opt[48] = "";
  if (interval > 0)
    snprintf(opt, sizeof(opt), " interval=%.3f", interval);
  int n =
      snprintf(dst, size, "PUTVAL %s%s %.3f:%.6f", quoted, opt, time, value);
  if (n < 0 || (size_t)n >= size || n > VS_UNIXSOCK_LINE_MAX)
    return -E2BIG;
  return n;
}

static int append_opt(char *dst, size_t size, size_t *o, const char *key,
                      const char *value) {
  if (!value || !*value)
    return 0;
  int n = snprintf(dst + *o, size - *o, " %s=", key);
  if (n < 0 || (size_t)n >= size - *o)
    return -E2BIG;
  *o += (size_t)n;
  n = vs_unixsock_quote(dst + *o, size - *o, value);
  if (n < 0)
    return n;
  *o += (size_t)n;
  return 0;
}

int vs_unixsock_putnotif(char *dst, size_t size, const char *severity,
                         double time, const vs_unixsock_ident_t *id,
                         const char *message) {
  size_t cap =
      size < VS_UNIXSOCK_LINE_MAX + 1 ? size : VS_UNIXSOCK_LINE_MAX + 1;
  int n = snprintf(dst, cap, "PUTNOTIF severity=%s time=%.3f", severity, time);
  if (n < 0 || (size_t)n >= cap)
    return -E2BIG;
  size_t o = (size_t)n;
  if (append_opt(dst, cap, &o, "host", id->host) < 0 ||
      append_opt(dst, cap, &o, "plugin", id->plugin) < 0 ||
      append_opt(dst, cap, &o, "plugin_instance", id->plugin_instance) < 0 ||
      append_opt(dst, cap, &o, "type", id->type) < 0 ||
      append_opt(dst, cap, &o, "type_instance", id->type_instance) < 0)
    return -E2BIG;
  /* The message: as much as fits, cut at a character boundary; the
   * callers build it in fixed buffers, so its end may be a character cut
   * short: left out. */
  size_t len = strlen(message);
  len = vs_utf8_cut(message, len, len);
  char *msg = malloc(len + 4);
  if (!msg)
    return -ENOMEM;
  memcpy(msg, message, len);
  msg[len] = '\0';
  for (;;) {
    size_t before = o;
    if (append_opt(dst, cap, &o, "message", msg) == 0)
      break;
    o = before;
    dst[o] = '\0';
    if (len == 0) {
      free(msg);
      return -E2BIG;
    }
    /* drop a tenth (at least one byte), between UTF-8 characters */
    len = vs_utf8_cut(message, len, len - (len / 10 > 0 ? len / 10 : 1));
    memcpy(msg, message, len);
    memcpy(msg + len, "...", 4);
  }
  free(msg);
  return (int)o;
}

int vs_unixsock_parse_reply(const char *line, vs_unixsock_reply_t *ret) {
  const char *p = line;
  if (*p == '-')
    p++;
  if (*p < '0' || *p > '9')
    return -EPROTO;
  char *end;
  errno = 0;
  long status = strtol(line, &end, 10);
  if (errno || status < -1000000 || status > 1000000 ||
      (*end != ' ' && *end != '\0'))
    return -EPROTO;
  ret->status = (int)status;
  const char *msg = *end == ' ' ? end + 1 : end;
  /* a long message is cut between characters */
  snprintf(ret->message, sizeof(ret->message), "%.*s",
           (int)vs_utf8_cut(msg, strlen(msg), sizeof(ret->message) - 1), msg);
  return 0;
}

int vs_unixsock_connect(vs_unixsock_t *c, const char *path, double timeout_s,
                        vs_error_t *err) {
  c->fd = -1;
  c->len = 0;
  /* In nanoseconds: --socket-timeout's largest value (1e7 s) overflowed
   * an int of milliseconds (a negative or wrapped deadline). */
  c->timeout_ns =
      timeout_s > 0 ? (uint64_t)(timeout_s * (double)VS_NS_PER_SEC) : 0;
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof(sa.sun_path))
    return vs_error_set(err, -ENAMETOOLONG, "collectd socket %s: path too long",
                        path);
  memcpy(sa.sun_path, path, strlen(path) + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return vs_error_set(err, -errno, "socket: %s", strerror(errno));
  /* A unix socket connect does not block on a listening peer; EAGAIN means
   * its backlog is full, i.e. collectd is not accepting. */
  if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
    int e = errno;
    close(fd);
    return vs_error_set(err, -e, "collectd socket %s: %s", path, strerror(e));
  }
  c->fd = fd;
  return 0;
}

void vs_unixsock_close(vs_unixsock_t *c) {
  if (c && c->fd >= 0) {
    close(c->fd);
    c->fd = -1;
  }
}

static int wait_fd(vs_unixsock_t *c, short events, uint64_t deadline) {
  for (;;) {
    uint64_t now = vs_now_ns();
    if (now >= deadline)
      return -ETIMEDOUT;
    struct pollfd pfd = {.fd = c->fd, .events = events};
    uint64_t ms = (deadline - now) / VS_NS_PER_MS + 1;
    int r = poll(&pfd, 1, ms > INT_MAX ? INT_MAX : (int)ms);
    if (r > 0)
      return 0;
    if (r < 0 && errno != EINTR)
      return -errno;
  }
}

static int send_all(vs_unixsock_t *c, const char *data, size_t len,
                    uint64_t deadline) {
  while (len > 0) {
    ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
    if (n > 0) {
      data += n;
      len -= (size_t)n;
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR)
      return -errno;
    int r = wait_fd(c, POLLOUT, deadline);
    if (r < 0)
      return r;
  }
  return 0;
}

/* One line from the socket into line (without the newline). */
static int recv_line(vs_unixsock_t *c, char *line, size_t size,
                     uint64_t deadline) {
  for (;;) {
    char *nl = memchr(c->buf, '\n', c->len);
    if (nl) {
      size_t n = (size_t)(nl - c->buf);
      snprintf(line, size, "%.*s", (int)n, c->buf);
      memmove(c->buf, nl + 1, c->len - n - 1);
      c->len -= n + 1;
      return 0;
    }
    if (c->len == sizeof(c->buf))
      return -EMSGSIZE; /* a reply line longer than we take */
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
    if (n > 0) {
      c->len += (size_t)n;
      continue;
    }
    if (n == 0)
      return -ECONNRESET;
    if (errno != EAGAIN && errno != EINTR)
      return -errno;
    int r = wait_fd(c, POLLIN, deadline);
    if (r < 0)
      return r;
  }
}

/* The connection failed mid-reply: close it. A garbled or over-long reply
 * (-EPROTO, -EMSGSIZE from reading or parsing) is reported as -EIO, since
 * -EPROTO from vs_unixsock_command() means "collectd refused the command"
 * (the caller files the line as rejected and keeps the connection). */
static int broken(vs_unixsock_t *c, int r, vs_error_t *err) {
  vs_unixsock_close(c);
  switch (r) {
  case -ETIMEDOUT:
    return vs_error_set(err, r,
                        "collectd socket: timed out after %g s: collectd "
                        "took no command or sent no complete reply",
                        (double)c->timeout_ns / VS_NS_PER_SEC);
  case -ECONNRESET:
    return vs_error_set(err, r,
                        "collectd socket: collectd closed the connection "
                        "before its reply was complete");
  case -EMSGSIZE:
    return vs_error_set(err, -EIO,
                        "collectd socket: a reply line longer than %zu bytes",
                        sizeof(c->buf) - 1);
  case -EPROTO:
    return vs_error_set(err, -EIO, "collectd socket: garbled reply");
  default:
    return vs_error_set(err, r, "collectd socket: %s", strerror(-r));
  }
}

int vs_unixsock_command(vs_unixsock_t *c, const char *line,
                        vs_unixsock_reply_t *reply, vs_error_t *err) {
  if (c->fd < 0)
    return vs_error_set(err, -ENOTCONN, "collectd socket not connected");
  uint64_t deadline = vs_now_ns() + c->timeout_ns;
  size_t len = strlen(line);
  char *msg = malloc(len + 2);
  if (!msg)
    return vs_error_set(err, -ENOMEM, "out of memory");
  memcpy(msg, line, len);
  msg[len] = '\n';
  int r = send_all(c, msg, len + 1, deadline);
  free(msg);
  char reply_line[1024];
  if (r == 0)
    r = recv_line(c, reply_line, sizeof(reply_line), deadline);
  if (r == 0 && vs_unixsock_parse_reply(reply_line, reply) < 0)
    r = -EPROTO;
  if (r < 0)
    return broken(c, r, err);
  for (int i = 0; i < reply->status; i++) {
    r = recv_line(c, reply_line, sizeof(reply_line), deadline);
    if (r < 0) /* an over-long extra line too: not a refusal */
      return broken(c, r, err);
  }
  if (reply->status < 0)
    return vs_error_set(err, -EPROTO, "collectd refused '%.*s': %s",
                        (int)vs_utf8_cut(line, strlen(line), 200), line,
                        reply->message);
  return 0;
}
