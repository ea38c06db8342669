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
#include "common/vs_time.h"

int vs_spool_open(vs_spool_t *s, const char *dir, vs_error_t *err) {
  memset(s, 0, sizeof(*s));
  s->fd = -1;
  if (mkdir(dir, 0700) < 0 && errno != EEXIST)
    return vs_error_set(err, -errno, "spool %s: %s", dir, strerror(errno));
  struct stat st;
  if (stat(dir, &st) < 0)
    return vs_error_set(err, -errno, "spool %s: %s", dir, strerror(errno));
  if (!S_ISDIR(st.st_mode))
    return vs_error_set(err, -ENOTDIR, "spool %s: not a directory", dir);
  if (access(dir, W_OK | X_OK) < 0)
    return vs_error_set(err, -errno, "spool %s: %s", dir, strerror(errno));
  s->dir = strdup(dir);
  if (!s->dir)
    return vs_error_set(err, -ENOMEM, "out of memory");
  return 0;
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

int vs_spool_append(vs_spool_t *s, const char *line, vs_error_t *err) {
  if (strchr(line, '\n'))
    return vs_error_set(err, -EINVAL, "spool: line with a newline");
  if (s->fd < 0) {
    char name[64];
    snprintf(name, sizeof(name), "%020" PRIu64 "-%ld.spool", vs_wall_ns(),
             (long)getpid());
    size_t len = strlen(s->dir) + strlen(name) + 2;
    s->path = malloc(len);
    if (!s->path)
      return vs_error_set(err, -ENOMEM, "out of memory");
    snprintf(s->path, len, "%s/%s", s->dir, name);
    s->fd =
        open(s->path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
    if (s->fd < 0)
      return vs_error_set(err, -errno, "spool %s: %s", s->path,
                          strerror(errno));
    /* Ours while we write: a concurrent replay skips it. */
    if (flock(s->fd, LOCK_EX | LOCK_NB) < 0)
      return vs_error_set(err, -errno, "spool %s: lock: %s", s->path,
                          strerror(errno));
    int r = write_all(s->fd, VS_SPOOL_HEADER "\n", strlen(VS_SPOOL_HEADER) + 1);
    if (r < 0)
      return vs_error_set(err, r, "spool %s: %s", s->path, strerror(-r));
  }
  size_t len = strlen(line);
  _cleanup_free_ char *buf = malloc(len + 1);
  if (!buf)
    return vs_error_set(err, -ENOMEM, "out of memory");
  memcpy(buf, line, len);
  buf[len] = '\n';
  int r = write_all(s->fd, buf, len + 1);
  if (r < 0)
    return vs_error_set(err, r, "spool %s: %s", s->path, strerror(-r));
  s->appended++;
  return 0;
}

int vs_spool_sync(vs_spool_t *s, vs_error_t *err) {
  if (s->fd >= 0 && fdatasync(s->fd) < 0)
    return vs_error_set(err, -errno, "spool %s: %s", s->path, strerror(errno));
  return 0;
}

void vs_spool_close(vs_spool_t *s) {
  if (!s)
    return;
  if (s->fd >= 0)
    close(s->fd);
  free(s->path);
  free(s->dir);
  memset(s, 0, sizeof(*s));
  s->fd = -1;
}

static int is_spool_name(const char *n) {
  size_t len = strlen(n);
  return len > 6 && strcmp(n + len - 6, ".spool") == 0 && n[0] >= '0' &&
         n[0] <= '9';
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the spool files in dir. */
static int list_files(const char *dir, char ***ret, size_t *n,
                      vs_error_t *err) {
  DIR *d = opendir(dir);
  if (!d)
    return vs_error_set(err, -errno, "spool %s: %s", dir, strerror(errno));
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
    for (size_t i = 0; i < count; i++)
      free(names[i]);
    free(names);
    return r;
  }
  if (count)
    qsort(names, count, sizeof(*names), cmp_str);
  *ret = names;
  *n = count;
  return 0;
}

static void free_list(char **names, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(names[i]);
  free(names);
}

static int append_file(const char *path, const char *line) {
  _cleanup_fd_ int fd =
      open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0)
    return -errno;
  size_t len = strlen(line);
  int r = write_all(fd, line, len);
  if (r == 0)
    r = write_all(fd, "\n", 1);
  return r;
}

/* Rewrite path to hold only the header and lines[from..n). */
static int rewrite_rest(const char *path, char **lines, size_t from, size_t n) {
  size_t len = strlen(path) + 5;
  _cleanup_free_ char *tmp = malloc(len);
  if (!tmp)
    return -ENOMEM;
  snprintf(tmp, len, "%s.tmp", path);
  _cleanup_fd_ int fd =
      open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return -errno;
  int r = write_all(fd, VS_SPOOL_HEADER "\n", strlen(VS_SPOOL_HEADER) + 1);
  for (size_t i = from; r == 0 && i < n; i++) {
    r = write_all(fd, lines[i], strlen(lines[i]));
    if (r == 0)
      r = write_all(fd, "\n", 1);
  }
  if (r == 0 && fdatasync(fd) < 0)
    r = -errno;
  if (r == 0 && rename(tmp, path) < 0)
    r = -errno;
  if (r < 0)
    unlink(tmp);
  return r;
}

/* Read the complete lines (ending in '\n') after the header; a last line
 * without its newline was cut by a crash and is counted as damaged. */
static int read_lines(int fd, char ***ret, size_t *n, size_t *damaged) {
  _cleanup_file_ FILE *f = fdopen(dup(fd), "r");
  if (!f)
    return -errno;
  char **lines = NULL;
  size_t count = 0, cap = 0;
  char *line = NULL;
  size_t linecap = 0;
  ssize_t len;
  bool first = true;
  int r = 0;
  while ((len = getline(&line, &linecap, f)) > 0) {
    if (line[len - 1] != '\n') {
      (*damaged)++;
      break;
    }
    line[len - 1] = '\0';
    if (first) {
      first = false;
      if (strcmp(line, VS_SPOOL_HEADER) == 0)
        continue;
    }
    if (!*line)
      continue;
    if (count == cap) {
      cap = cap ? cap * 2 : 64;
      char **grown = realloc(lines, cap * sizeof(*grown));
      if (!grown) {
        r = -ENOMEM;
        break;
      }
      lines = grown;
    }
    if (!(lines[count] = strdup(line))) {
      r = -ENOMEM;
      break;
    }
    count++;
  }
  free(line);
  if (r < 0) {
    free_list(lines, count);
    return r;
  }
  *ret = lines;
  *n = count;
  return 0;
}

/* Replay one file of another run: delivered lines go, the rest (after a
 * transport failure) stays. Returns 0, or a negative errno with err set
 * (only the first problem of a replay is kept in err) and the file as it
 * was. */
static int replay_file(const char *path, const char *rejected,
                       vs_spool_send_fn send, void *ctx,
                       vs_spool_stats_t *stats, bool *transport_down,
                       vs_error_t *err) {
  vs_error_t e = {0};
  _cleanup_fd_ int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    vs_error_set(&e, -errno, "spool %s: %s", path, strerror(errno));
    goto fail;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) < 0)
    return 0; /* a run still writing it */
  char **lines = NULL;
  size_t count = 0, damaged = 0;
  int r = read_lines(fd, &lines, &count, &damaged);
  if (r < 0) {
    vs_error_set(&e, r, "spool %s: %s", path, strerror(-r));
    goto fail;
  }
  stats->damaged += damaged;
  size_t k = 0;
  if (!*transport_down) {
    for (; k < count; k++) {
      int sr = send(ctx, lines[k]);
      if (sr == 0) {
        stats->delivered++;
      } else if (sr == -EPROTO) {
        stats->rejected++;
        if (append_file(rejected, lines[k]) < 0)
          stats->left++; /* counted, nowhere to keep it: say so */
      } else {
        *transport_down = true;
        break;
      }
    }
  }
  stats->left += count - k;
  if (k == count) {
    if (unlink(path) < 0 && errno != ENOENT)
      r = vs_error_set(&e, -errno, "spool %s: %s", path, strerror(errno));
    else
      stats->files_done++;
  } else if (k > 0) {
    r = rewrite_rest(path, lines, k, count);
    if (r < 0)
      vs_error_set(&e, r, "spool %s: rewrite: %s", path, strerror(-r));
  }
  free_list(lines, count);
  if (r == 0)
    return 0;
fail:
  if (err->code == 0)
    *err = e;
  return e.code;
}

int vs_spool_replay(vs_spool_t *s, vs_spool_send_fn send, void *ctx,
                    vs_spool_stats_t *stats, vs_error_t *err) {
  memset(stats, 0, sizeof(*stats));
  *err = (vs_error_t){0}; /* holds the first problem of this replay */
  char path[PATH_MAX], rejected[PATH_MAX];
  const size_t plen = sizeof(path);
  if (strlen(s->dir) + 64 > plen)
    return vs_error_set(err, -ENAMETOOLONG, "spool %s: path too long", s->dir);
  snprintf(path, plen, "%s/.lock", s->dir);
  snprintf(rejected, plen, "%s/rejected.log", s->dir);
  _cleanup_fd_ int lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock < 0 || flock(lock, LOCK_EX) < 0)
    return vs_error_set(err, -errno, "spool %s: %s", path, strerror(errno));

  char **names = NULL;
  size_t n = 0;
  int r = list_files(s->dir, &names, &n, err);
  if (r < 0)
    return r;
  bool transport_down = false;
  for (size_t i = 0; i < n; i++) {
    snprintf(path, plen, "%s/%s", s->dir, names[i]);
    if (s->path && strcmp(path, s->path) == 0)
      continue;
    if (replay_file(path, rejected, send, ctx, stats, &transport_down, err) < 0)
      stats->problems++; /* left as it was; the next file is replayed */
  }
  free_list(names, n);
  return 0;
}

int vs_spool_count(const char *dir, size_t *ret) {
  *ret = 0;
  char **names = NULL;
  size_t n = 0;
  vs_error_t err;
  int r = list_files(dir, &names, &n, &err);
  if (r < 0)
    return r;
  size_t plen = strlen(dir) + 64;
  char *path = malloc(plen);
  if (!path) {
    free_list(names, n);
    return -ENOMEM;
  }
  for (size_t i = 0; i < n && r == 0; i++) {
    snprintf(path, plen, "%s/%s", dir, names[i]);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      continue;
    char **lines = NULL;
    size_t count = 0, damaged = 0;
    r = read_lines(fd, &lines, &count, &damaged);
    close(fd);
    if (r == 0) {
      *ret += count;
      free_list(lines, count);
    }
  }
  free(path);
  free_list(names, n);
  return r;
}
