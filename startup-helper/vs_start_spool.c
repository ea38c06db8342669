#include "vs_start_spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/vs_cleanup.h"
#include "common/vs_idfield.h"
#include "common/vs_time.h"
#include "vs_start_collectd.h"
#include "vs_start_unixsock.h"

/* ---- files inside the checked directory --------------------------------- */

/* Open name inside the spool directory: never through a symbolic link
 * (O_NOFOLLOW), never kept across exec, never blocking on a FIFO planted
 * there, and only a regular file. Returns the fd or a negative errno with
 * err set. */
static int open_in(int dfd, const char *dir, const char *name, int flags,
                   mode_t mode, vs_error_t *err) {
  int fd = openat(dfd, name, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, mode);
  if (fd < 0) {
    if (errno == ELOOP)
      return vs_error_set(err, -ELOOP,
                          "spool %s/%s: a symbolic link (refused, not "
                          "followed)",
                          dir, name);
    return vs_error_set(err, -errno, "spool %s/%s: %s", dir, name,
                        strerror(errno));
  }
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    int e = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
    close(fd);
    return vs_error_set(err, -e, "spool %s/%s: %s", dir, name,
                        e == EISDIR ? strerror(e) : "not a regular file");
  }
  return fd;
}

static int write_all(int fd, const char *data, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -errno;
    }
    data += n;
    len -= (size_t)n;
  }
  return 0;
}

/* ---- open: the directory and its trust ---------------------------------- */

int vs_spool_open(vs_spool_t *s, const char *dir, vs_error_t *err) {
  memset(s, 0, sizeof(*s));
  s->fd = -1;
  s->dfd = -1;
  if (mkdir(dir, 0700) < 0 && errno != EEXIST)
    return vs_error_set(err, -errno, "spool %s: %s", dir, strerror(errno));
  /* A symbolic link as DIR itself is followed (an administrator's choice);
   * what is checked is the directory reached, through the descriptor used
   * for everything afterwards. */
  _cleanup_fd_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return vs_error_set(err, errno == ENOTDIR ? -ENOTDIR : -errno,
                        "spool %s: %s", dir,
                        errno == ENOTDIR ? "not a directory" : strerror(errno));
  struct stat st;
  if (fstat(dfd, &st) < 0)
    return vs_error_set(err, -errno, "spool %s: %s", dir, strerror(errno));
  uid_t me = geteuid();
  if (st.st_uid != me || (st.st_mode & (S_IWGRP | S_IWOTH))) {
    s->untrusted = true;
    return vs_error_set(err, -EPERM,
                        "spool %s refused: owned by uid %u with mode %04o; it "
                        "must be owned by uid %u (this user) and not be "
                        "writable by group or others (as created: 0700)",
                        dir, (unsigned)st.st_uid,
                        (unsigned)(st.st_mode & 07777), (unsigned)me);
  }
  if (faccessat(dfd, ".", W_OK | X_OK, AT_EACCESS) < 0)
    return vs_error_set(err, -errno, "spool %s: %s", dir, strerror(errno));
  s->dir = strdup(dir);
  if (!s->dir)
    return vs_error_set(err, -ENOMEM, "out of memory");
  s->dfd = dfd;
  dfd = -1;
  return 0;
}

/* ---- writing this run's file -------------------------------------------- */

/* Create this run's file: as NAME.open (ignored by replay), locked, with
 * its header, then renamed to NAME.spool while still locked - so replay
 * never sees the final name of a file it could lock before its writer is
 * done (the lock is held until vs_spool_close()). */
static int create_file(vs_spool_t *s, vs_error_t *err) {
  char name[64], open_name[64];
  uint64_t ns = vs_wall_ns();
  snprintf(name, sizeof(name), "%020" PRIu64 "-%ld.spool", ns, (long)getpid());
  snprintf(open_name, sizeof(open_name), "%020" PRIu64 "-%ld.open", ns,
           (long)getpid());
  free(s->path);
  size_t len = strlen(s->dir) + strlen(name) + 2;
  if (!(s->path = malloc(len)))
    return vs_error_set(err, -ENOMEM, "out of memory");
  snprintf(s->path, len, "%s/%s", s->dir, name);
  int fd = open_in(s->dfd, s->dir, open_name,
                   O_WRONLY | O_CREAT | O_EXCL | O_APPEND, 0600, err);
  if (fd < 0)
    return fd;
  int r = flock(fd, LOCK_EX | LOCK_NB) < 0 ? -errno : 0;
  if (r == 0)
    r = write_all(fd, VS_SPOOL_HEADER "\n", strlen(VS_SPOOL_HEADER) + 1);
  if (r == 0 && renameat(s->dfd, open_name, s->dfd, name) < 0)
    r = -errno;
  if (r < 0) {
    unlinkat(s->dfd, open_name, 0);
    close(fd);
    return vs_error_set(err, r, "spool %s: %s", s->path, strerror(-r));
  }
  fsync(s->dfd); /* the final name must survive a crash with the lines */
  s->fd = fd;
  s->good = (off_t)strlen(VS_SPOOL_HEADER) + 1;
  return 0;
}

int vs_spool_append(vs_spool_t *s, const char *line, vs_error_t *err) {
  if (strchr(line, '\n'))
    return vs_error_set(err, -EINVAL, "spool: line with a newline");
  if (s->fd < 0) {
    int r = create_file(s, err);
    if (r < 0)
      return r;
  }
  size_t len = strlen(line);
  _cleanup_free_ char *buf = malloc(len + 1);
  if (!buf)
    return vs_error_set(err, -ENOMEM, "out of memory");
  memcpy(buf, line, len);
  buf[len] = '\n';
  int r = write_all(s->fd, buf, len + 1);
  if (r < 0) {
    /* A write cut short (ENOSPC, EFBIG) leaves part of the line: drop it,
     * or the next line would be glued onto it. */
    if (ftruncate(s->fd, s->good) < 0)
      return vs_error_set(err, r, "spool %s: %s (and a cut line remains: %s)",
                          s->path, strerror(-r), strerror(errno));
    return vs_error_set(err, r, "spool %s: %s", s->path, strerror(-r));
  }
  s->good += (off_t)(len + 1);
  s->appended++;
  return 0;
}

int vs_spool_sync(vs_spool_t *s, vs_error_t *err) {
  if (s->fd >= 0 && fdatasync(s->fd) < 0)
    return vs_error_set(err, -errno, "spool %s: %s", s->path, strerror(errno));
  return 0;
}

int vs_spool_release(vs_spool_t *s, vs_error_t *err) {
  if (s->fd < 0)
    return 0;
  int r = vs_spool_sync(s, err);
  if (r < 0)
    return r;
  char **grown = realloc(s->released, (s->n_released + 1) * sizeof(*grown));
  if (!grown)
    return vs_error_set(err, -ENOMEM, "out of memory");
  s->released = grown;
  if (!(grown[s->n_released] = strdup(strrchr(s->path, '/') + 1)))
    return vs_error_set(err, -ENOMEM, "out of memory");
  s->n_released++;
  close(s->fd); /* drops the lock: the file is complete */
  s->fd = -1;
  free(s->path);
  s->path = NULL;
  s->good = 0;
  s->appended = 0;
  return 0;
}

void vs_spool_close(vs_spool_t *s) {
  if (!s)
    return;
  if (s->fd >= 0)
    close(s->fd);
  if (s->dfd >= 0)
    close(s->dfd);
  free(s->path);
  free(s->dir);
  for (size_t i = 0; i < s->n_released; i++)
    free(s->released[i]);
  free(s->released);
  memset(s, 0, sizeof(*s));
  s->fd = -1;
  s->dfd = -1;
}

/* ---- which lines may be sent -------------------------------------------- */

static bool digits(const char **p, size_t max) {
  const char *q = *p;
  while (*q >= '0' && *q <= '9')
    q++;
  if (q == *p || (size_t)(q - *p) > max)
    return false;
  *p = q;
  return true;
}

/* [-]D+[.D+], as "%.3f"/"%.6f" write it. */
static bool number(const char **p, bool sign) {
  const char *q = *p;
  if (sign && *q == '-')
    q++;
  if (!digits(&q, 40))
    return false;
  if (*q == '.') {
    q++;
    if (!digits(&q, 12))
      return false;
  }
  *p = q;
  return true;
}

/* A string quoted as vs_unixsock_quote() does: "..." with '"' and '\'
 * escaped by a backslash, nothing else escaped. Unquoted into out. */
static bool quoted(const char **p, char *out, size_t size) {
  const char *q = *p;
  size_t o = 0;
  if (*q++ != '"')
    return false;
  for (; *q != '"'; q++) {
    if (!*q)
      return false;
    if (*q == '\\') {
      q++;
      if (*q != '"' && *q != '\\')
        return false;
    }
    if (o + 1 >= size)
      return false;
    out[o++] = *q;
  }
  out[o] = '\0';
  *p = q + 1;
  return true;
}

/* Whether f (no suffix) is vs_idfield()'s field of some name: decoded
 * ('%' and two uppercase hex digits as that byte) and made safe again, it
 * must come back unchanged. tail is appended to both sides (see
 * field_ok()). */
static bool round_trips(const char *f, size_t len, const char *tail) {
  char name[VS_IDENT_MAX + 2], enc[VS_IDENT_MAX], want[VS_IDENT_MAX + 2];
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned v = (unsigned char)f[i];
    if (f[i] == '%') {
      static const char hex[] = "0123456789ABCDEF";
      if (i + 2 >= len || !f[i + 1] || !f[i + 2])
        return false;
      const char *h = strchr(hex, f[i + 1]), *l = strchr(hex, f[i + 2]);
      if (!h || !l)
        return false;
      v = (unsigned)((h - hex) * 16 + (l - hex));
      i += 2;
      if (v == 0 && !(len == 3 && !*tail)) /* "%00" is "" alone */
        return false;
    }
    if (o + 1 >= sizeof(name))
      return false;
    if (v)
      name[o++] = (char)v;
  }
  snprintf(name + o, sizeof(name) - o, "%s", tail);
  snprintf(want, sizeof(want), "%.*s%s", (int)len, f, tail);
  vs_idfield(enc, sizeof(enc), name);
  return strcmp(enc, want) == 0;
}

/* An identifier field as vs_idfield() writes it. A field ending in '~' and
 * 16 hex digits is a cut name plus its hash: the hash cannot be checked
 * without the name, its prefix can (followed by a kept byte, so that the
 * rules for whole names - "", ".", a '~'-digits tail - do not apply). */
static bool field_ok(const char *f) {
  size_t len = strlen(f);
  if (len == 0 || len >= VS_IDENT_MAX)
    return false;
  if (len > VS_IDFIELD_HASH_LEN && f[len - VS_IDFIELD_HASH_LEN] == '~' &&
      strspn(f + len - VS_IDFIELD_HASH_LEN + 1, "0123456789abcdef") ==
          VS_IDFIELD_HASH_LEN - 1 &&
      round_trips(f, len - VS_IDFIELD_HASH_LEN, "x"))
    return true;
  return round_trips(f, len, "");
}

/* f is "name[-instance]": name must be want (or any field when want is
 * NULL), the instance (after the first '-') a field. */
static bool part_ok(char *f, const char *want) {
  char *dash = strchr(f, '-');
  if (dash)
    *dash = '\0';
  bool ok = want ? strcmp(f, want) == 0 : field_ok(f);
  return ok && (!dash || field_ok(dash + 1));
}

static bool identifier_ok(char *id) {
  char *a = strchr(id, '/'), *b = a ? strchr(a + 1, '/') : NULL;
  if (!a || !b || strchr(b + 1, '/'))
    return false;
  *a = *b = '\0';
  return field_ok(id) && part_ok(a + 1, VS_START_PLUGIN) &&
         part_ok(b + 1, NULL);
}

static int check_putval(const char *p, const char **reason) {
  char id[VS_UNIXSOCK_LINE_MAX + 1];
  if (!quoted(&p, id, sizeof(id)))
    return *reason = "identifier not quoted as written", -EINVAL;
  if (!identifier_ok(id))
    return *reason = "identifier not as the helper builds it", -EINVAL;
  if (strncmp(p, " interval=", 10) == 0) {
    p += 10;
    const char *start = p;
    if (!number(&p, false) || strtod(start, NULL) <= 0)
      return *reason = "bad interval", -EINVAL;
  }
  if (*p++ != ' ' || !number(&p, false))
    return *reason = "bad time", -EINVAL;
  do {
    if (*p++ != ':' || !number(&p, true))
      return *reason = "bad value", -EINVAL;
  } while (*p);
  return 0;
}

static int check_putnotif(const char *p, const char **reason) {
  static const char *const keys[] = {
      "severity",        "time",   "host", "plugin", "type", "type_instance",
      "plugin_instance", "message"};
  enum { SEVERITY, TIME, PLUGIN = 3, MESSAGE = 7, NKEYS };
  unsigned seen = 0;
  char value[VS_UNIXSOCK_LINE_MAX + 1];
  while (*p) {
    if (seen & (1u << MESSAGE))
      return *reason = "text after the message", -EINVAL;
    if (*p++ != ' ')
      return *reason = "bad option", -EINVAL;
    size_t k = 0, klen = strcspn(p, "=");
    while (k < NKEYS &&
           !(strlen(keys[k]) == klen && strncmp(p, keys[k], klen) == 0))
      k++;
    if (k == NKEYS || p[klen] != '=')
      return *reason = "unknown option", -EINVAL;
    if (seen & (1u << k))
      return *reason = "option given twice", -EINVAL;
    seen |= 1u << k;
    p += klen + 1;
    if (k == SEVERITY) {
      size_t n = strcspn(p, " ");
      if (!((n == 7 && strncmp(p, "failure", 7) == 0) ||
            (n == 7 && strncmp(p, "warning", 7) == 0) ||
            (n == 4 && strncmp(p, "okay", 4) == 0)))
        return *reason = "bad severity", -EINVAL;
      p += n;
    } else if (k == TIME) {
      if (!number(&p, false))
        return *reason = "bad time", -EINVAL;
    } else {
      if (!quoted(&p, value, sizeof(value)))
        return *reason = "value not quoted as written", -EINVAL;
      if (k == PLUGIN ? strcmp(value, VS_START_PLUGIN) != 0
                      : k != MESSAGE && !field_ok(value))
        return *reason = "identifier not as the helper builds it", -EINVAL;
    }
  }
  if ((seen & (1u << SEVERITY | 1u << TIME | 1u << PLUGIN | 1u << MESSAGE)) !=
      (1u << SEVERITY | 1u << TIME | 1u << PLUGIN | 1u << MESSAGE))
    return *reason = "severity, time, plugin or message missing", -EINVAL;
  return 0;
}

int vs_spool_check_line(const char *line, size_t len, const char **reason) {
  if (len > VS_UNIXSOCK_LINE_MAX)
    return *reason = "longer than collectd reads in one command", -EINVAL;
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)line[i] < 0x20 || line[i] == 0x7F)
      return *reason = "control character", -EINVAL;
  if (len >= 7 && strncmp(line, "PUTVAL ", 7) == 0)
    return check_putval(line + 7, reason);
  if (len >= 8 && strncmp(line, "PUTNOTIF", 8) == 0)
    return check_putnotif(line + 8, reason);
  return *reason = "not a PUTVAL or PUTNOTIF command", -EINVAL;
}

/* ---- reading and replaying other runs' files ----------------------------- */

typedef struct {
  char *text;   /* without the newline, NUL-terminated (owned) */
  size_t len;   /* bytes of text (it may hold NULs) */
  bool partial; /* the file's last line, without its newline */
} entry_t;

typedef struct {
  entry_t *v;
  size_t n;
  unsigned attempts; /* failed replays of v[0] ("# attempts N") */
} entries_t;

static void entries_free(entries_t *e) {
  for (size_t i = 0; i < e->n; i++)
    free(e->v[i].text);
  free(e->v);
  *e = (entries_t){0};
}

/* Read the lines after the header (and the attempts line). A last line
 * without its newline was cut by a crash or a full disk: kept as partial,
 * never sent. */
static int read_entries(int fd, entries_t *ret) {
  *ret = (entries_t){0};
  int dfd = dup(fd);
  if (dfd < 0)
    return -errno;
  _cleanup_file_ FILE *f = fdopen(dfd, "r");
  if (!f) {
    close(dfd);
    return -errno;
  }
  entries_t e = {0};
  size_t cap = 0, lineno = 0;
  _cleanup_free_ char *line = NULL;
  size_t linecap = 0;
  ssize_t len;
  int r = 0;
  while ((len = getline(&line, &linecap, f)) > 0) {
    lineno++;
    bool partial = line[len - 1] != '\n';
    if (!partial)
      line[--len] = '\0';
    if (!partial && lineno == 1 && strcmp(line, VS_SPOOL_HEADER) == 0)
      continue;
    if (!partial && lineno == 2 && e.n == 0 &&
        strncmp(line, VS_SPOOL_ATTEMPTS, strlen(VS_SPOOL_ATTEMPTS)) == 0) {
      const char *p = line + strlen(VS_SPOOL_ATTEMPTS);
      if (digits(&p, 3) && !*p) {
        e.attempts = (unsigned)atoi(line + strlen(VS_SPOOL_ATTEMPTS));
        continue;
      }
    }
    if (!partial && len == 0)
      continue;
    if (e.n == cap) {
      cap = cap ? cap * 2 : 64;
      entry_t *grown = realloc(e.v, cap * sizeof(*grown));
      if (!grown) {
        r = -ENOMEM;
        break;
      }
      e.v = grown;
    }
    char *text = malloc((size_t)len + 1);
    if (!text) {
      r = -ENOMEM;
      break;
    }
    memcpy(text, line, (size_t)len + 1);
    e.v[e.n++] =
        (entry_t){.text = text, .len = (size_t)len, .partial = partial};
  }
  if (r == 0 && ferror(f))
    r = -EIO;
  if (r < 0) {
    entries_free(&e);
    return r;
  }
  *ret = e;
  return 0;
}

/* Append data to DIR/name (created 0600, never through a symbolic link). */
static int append_to(const vs_spool_t *s, const char *name, const char *data,
                     size_t len, vs_error_t *err) {
  _cleanup_fd_ int fd =
      open_in(s->dfd, s->dir, name, O_WRONLY | O_CREAT | O_APPEND, 0600, err);
  if (fd < 0)
    return fd;
  int r = write_all(fd, data, len);
  if (r < 0)
    return vs_error_set(err, r, "spool %s/%s: %s", s->dir, name, strerror(-r));
  return 0;
}

/* One record in quarantine.log: "<file>: <reason>: <line>", the line's
 * control characters and backslashes written as \xHH (one record per line,
 * nothing that could drive a terminal), a long one cut. */
static int quarantine(const vs_spool_t *s, const char *file, const entry_t *x,
                      const char *reason, vs_error_t *err) {
  char buf[2 * VS_UNIXSOCK_LINE_MAX + 256];
  int n = snprintf(buf, sizeof(buf), "%s: %s: ", file, reason);
  size_t o = n < 0 ? 0 : (size_t)n;
  for (size_t i = 0; i < x->len && o + 8 < sizeof(buf); i++) {
    unsigned char c = (unsigned char)x->text[i];
    if (c < 0x20 || c == 0x7F || c == '\\')
      o += (size_t)snprintf(buf + o, sizeof(buf) - o, "\\x%02X", c);
    else
      buf[o++] = (char)c;
  }
  if (o + 8 >= sizeof(buf))
    o += (size_t)snprintf(buf + o, sizeof(buf) - o, "...");
  buf[o++] = '\n';
  return append_to(s, VS_SPOOL_QUARANTINE, buf, o, err);
}

/* Rewrite DIR/name to hold the header, "# attempts N" (also 0, so no kept line
 * lands on line 2), and the kept entries, through DIR/name.tmp and a rename. */
static int rewrite(const vs_spool_t *s, const char *name, const entries_t *e,
                   const bool *keep, unsigned attempts, vs_error_t *err) {
  char tmp[NAME_MAX + 8];
  snprintf(tmp, sizeof(tmp), "%s.tmp", name);
  if (unlinkat(s->dfd, tmp, 0) < 0 && errno != ENOENT) /* a crash's leftover */
    return vs_error_set(err, -errno, "spool %s/%s: %s", s->dir, tmp,
                        strerror(errno));
  _cleanup_fd_ int fd =
      open_in(s->dfd, s->dir, tmp, O_WRONLY | O_CREAT | O_EXCL, 0600, err);
  if (fd < 0)
    return fd;
  int r = write_all(fd, VS_SPOOL_HEADER "\n", strlen(VS_SPOOL_HEADER) + 1);
  if (r == 0) { /* always: a kept line must never land on line 2 */
    char line[32];
    int n = snprintf(line, sizeof(line), VS_SPOOL_ATTEMPTS "%u\n", attempts);
    r = write_all(fd, line, (size_t)n);
  }
  for (size_t i = 0; r == 0 && i < e->n; i++) {
    if (!keep[i])
      continue;
    r = write_all(fd, e->v[i].text, e->v[i].len);
    if (r == 0 && !e->v[i].partial) /* a cut line stays cut */
      r = write_all(fd, "\n", 1);
  }
  if (r == 0 && fdatasync(fd) < 0)
    r = -errno;
  if (r == 0 && renameat(s->dfd, tmp, s->dfd, name) < 0)
    r = -errno;
  if (r < 0) {
    unlinkat(s->dfd, tmp, 0);
    return vs_error_set(err, r, "spool %s/%s: rewrite: %s", s->dir, name,
                        strerror(-r));
  }
  fsync(s->dfd);
  return 0;
}

/* Replay one file of another run: delivered, refused and quarantined lines
 * go, the rest (after a transport failure, or a line that could not be
 * moved) stays. Returns 0, or a negative errno with the file as it was
 * (problems: err keeps only the first problem of a replay). */
static int replay_file(const vs_spool_t *s, const char *name,
                       vs_spool_send_fn send, void *ctx,
                       vs_spool_stats_t *stats, bool *transport_down,
                       vs_error_t *err) {
  vs_error_t e = {0};
  _cleanup_fd_ int fd = open_in(s->dfd, s->dir, name, O_RDWR, 0, &e);
  if (fd < 0)
    goto fail;
  /* Locked: a run still writing it (see vs_start_spool.h). */
  if (flock(fd, LOCK_EX | LOCK_NB) < 0)
    return 0;
  entries_t en;
  int r = read_entries(fd, &en);
  if (r < 0) {
    vs_error_set(&e, r, "spool %s/%s: %s", s->dir, name, strerror(-r));
    goto fail;
  }
  bool *keep = calloc(en.n ? en.n : 1, sizeof(*keep));
  if (!keep) {
    entries_free(&en);
    vs_error_set(&e, -ENOMEM, "out of memory");
    goto fail;
  }
  size_t kept = 0;
  unsigned attempts = 0; /* of the first kept line, after this replay */
  for (size_t i = 0; i < en.n; i++) {
    entry_t *x = &en.v[i];
    const char *reason = NULL;
    char why[160];
    vs_error_t qe = {0};
    if (*transport_down) {
      keep[i] = true;
    } else if (x->partial) {
      reason = "cut (no newline at the end)";
    } else if (vs_spool_check_line(x->text, x->len, &reason) == 0) {
      int sr = send(ctx, x->text);
      if (sr == 0) {
        stats->delivered++;
      } else if (sr == -EPROTO) {
        size_t len = x->len;
        x->text[len] = '\n'; /* the line as it was, for re-sending by hand */
        if (append_to(s, VS_SPOOL_REJECTED, x->text, len + 1, &qe) == 0)
          stats->rejected++;
        else
          keep[i] = true;
        x->text[len] = '\0';
      } else {
        *transport_down = true;
        unsigned now = (i == 0 ? en.attempts : 0) + 1;
        if (now >= VS_SPOOL_MAX_ATTEMPTS) {
          snprintf(why, sizeof(why),
                   "not taken by collectd in %u replays (last: %s)", now,
                   strerror(-sr));
          reason = why;
        } else {
          keep[i] = true;
          if (kept == 0)
            attempts = now;
        }
      }
    }
    if (reason && quarantine(s, name, x, reason, &qe) == 0) {
      stats->damaged++;
      if (e.code == 0)
        vs_error_set(&e, -EBADMSG, "spool %s/%s: a line moved to %s/%s (%s)",
                     s->dir, name, s->dir, VS_SPOOL_QUARANTINE, reason);
    } else if (reason) {
      keep[i] = true; /* nowhere to keep it: it stays, never sent */
    }
    if (qe.code && e.code == 0)
      e = qe;
    if (keep[i]) {
      if (kept == 0 && i == 0 && !reason && *transport_down && attempts == 0)
        attempts = en.attempts; /* not tried this time: count unchanged */
      kept++;
    }
  }
  stats->left += kept;
  r = 0;
  if (kept == 0) {
    if (unlinkat(s->dfd, name, 0) < 0 && errno != ENOENT)
      r = vs_error_set(&e, -errno, "spool %s/%s: %s", s->dir, name,
                       strerror(errno));
    else
      stats->files_done++;
  } else if (kept < en.n || attempts != en.attempts) {
    vs_error_t we = {0};
    r = rewrite(s, name, &en, keep, attempts, &we);
    if (r < 0)
      e = we; /* the file as it was: the one problem that matters */
  }
  free(keep);
  entries_free(&en);
  if (e.code && err->code == 0)
    *err = e;
  return r;
fail:
  if (err->code == 0)
    *err = e;
  return e.code;
}

static bool is_spool_name(const char *n) {
  size_t len = strlen(n);
  return len > 6 && strcmp(n + len - 6, ".spool") == 0 && n[0] >= '0' &&
         n[0] <= '9';
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_list(char **names, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(names[i]);
  free(names);
}

/* Sorted names of the spool files in the directory dfd. */
static int list_files(int dfd, const char *dir, char ***ret, size_t *n,
                      vs_error_t *err) {
  int fd = dup(dfd);
  DIR *d = fd < 0 ? NULL : fdopendir(fd);
  if (!d) {
    int e = errno;
    if (fd >= 0)
      close(fd);
    return vs_error_set(err, -e, "spool %s: %s", dir, strerror(e));
  }
  rewinddir(d); /* the offset is shared with dfd */
  char **names = NULL;
  size_t count = 0;
  struct dirent *e;
  int r = 0;
  while ((e = readdir(d))) {
    if (!is_spool_name(e->d_name))
      continue;
    char **grown = realloc(names, (count + 1) * sizeof(*grown));
    if (!grown || !(grown[count] = strdup(e->d_name))) {
      names = grown ? grown : names;
      r = vs_error_set(err, -ENOMEM, "out of memory");
      break;
    }
    names = grown;
    count++;
  }
  closedir(d);
  if (r < 0) {
    free_list(names, count);
    return r;
  }
  if (count)
    qsort(names, count, sizeof(*names), cmp_str);
  *ret = names;
  *n = count;
  return 0;
}

/* Whether name is a file this run released (vs_spool_release()). */
static bool released(const vs_spool_t *s, const char *name) {
  for (size_t i = 0; i < s->n_released; i++)
    if (strcmp(s->released[i], name) == 0)
      return true;
  return false;
}

int vs_spool_replay(vs_spool_t *s, vs_spool_send_fn send, void *ctx,
                    vs_spool_stats_t *stats, vs_error_t *err) {
  memset(stats, 0, sizeof(*stats));
  *err = (vs_error_t){0}; /* holds the first problem of this replay */
  _cleanup_fd_ int lock =
      open_in(s->dfd, s->dir, ".lock", O_RDWR | O_CREAT, 0600, err);
  if (lock < 0)
    return lock;
  if (flock(lock, LOCK_EX) < 0)
    return vs_error_set(err, -errno, "spool %s/.lock: %s", s->dir,
                        strerror(errno));
  char **names = NULL;
  size_t n = 0;
  int r = list_files(s->dfd, s->dir, &names, &n, err);
  if (r < 0)
    return r;
  const char *own = s->path ? strrchr(s->path, '/') + 1 : NULL;
  bool transport_down = false;
  s->mine.left = 0;
  for (size_t i = 0; i < n; i++) {
    if (own && strcmp(names[i], own) == 0)
      continue;
    vs_spool_stats_t *st = released(s, names[i]) ? &s->mine : stats;
    if (replay_file(s, names[i], send, ctx, st, &transport_down, err) < 0)
      st->problems++; /* left as it was; the next file is replayed */
  }
  free_list(names, n);
  return 0;
}

int vs_spool_count(const char *dir, size_t *ret) {
  *ret = 0;
  _cleanup_fd_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return -errno;
  char **names = NULL;
  size_t n = 0;
  vs_error_t err;
  int r = list_files(dfd, dir, &names, &n, &err);
  if (r < 0)
    return r;
  for (size_t i = 0; i < n && r == 0; i++) {
    int fd = open_in(dfd, dir, names[i], O_RDONLY, 0, &err);
    if (fd < 0)
      continue;
    entries_t e;
    r = read_entries(fd, &e);
    close(fd);
    if (r == 0) {
      *ret += e.n;
      entries_free(&e);
    }
  }
  free_list(names, n);
  return r;
}
