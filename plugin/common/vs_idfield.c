#include "vs_idfield.h"

#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "vs_utf8.h"

/* The suffix hash is SHA-256 (GLib's GChecksum: GLib is there wherever
 * libvirt is): a cryptographic hash rather than FNV-1a because the suffix is
 * all that separates two long names with the same readable part, and FNV can
 * be inverted step by step (a tenant could choose a name that lands on
 * another's field). The digest is fixed by the standard, so fields stay the
 * same across versions and machines. */

/* --- the name, read in place -------------------------------------------------
 *
 * parts[0] sep parts[1] ... read byte by byte, so that a joined name is
 * never built (nor cut to fit a buffer before it is hashed). */

typedef struct {
  const char *const *parts;
  size_t n;
  char sep;    /* '\0': none */
  size_t part; /* the part p is in */
  const char *p;
  bool at_sep; /* the separator before parts[part + 1] comes next */
} cursor_t;

static const char *part_at(const cursor_t *c, size_t i) {
  return c->parts[i] ? c->parts[i] : "";
}

/* Skip exhausted parts: the cursor then is at a byte or at the end. */
static void settle(cursor_t *c) {
  while (!c->at_sep && *c->p == '\0' && c->part + 1 < c->n) {
    if (c->sep) {
      c->at_sep = true;
      return;
    }
    c->p = part_at(c, ++c->part);
  }
}

static cursor_t cursor_start(const char *const parts[], size_t n, char sep) {
  cursor_t c = {.parts = parts, .n = n, .sep = sep, .p = ""};
  if (n > 0)
    c.p = part_at(&c, 0);
  settle(&c);
  return c;
}

/* The byte at the cursor, or -1 at the end. */
static int cursor_peek(const cursor_t *c) {
  if (c->at_sep)
    return (unsigned char)c->sep;
  return *c->p ? (unsigned char)*c->p : -1;
}

/* Step past the byte at the cursor (not at the end). */
static void cursor_next(cursor_t *c) {
  if (c->at_sep) {
    c->at_sep = false;
    c->p = part_at(c, ++c->part);
  } else {
    c->p++;
  }
  settle(c);
}

/* --- the encoding ------------------------------------------------------- */

static const char hex_upper[] = "0123456789ABCDEF";
static const char hex_lower[] = "0123456789abcdef";

/* Printable ASCII that needs no escape. '%' is the escape itself; '/'
 * separates identifier fields and directories. */
static bool kept_ascii(int b) {
  return b >= 0x20 && b <= 0x7E && b != '/' && b != '%';
}

/* Length (2..4) of the well-formed UTF-8 character at c, 0 when the bytes
 * there are not one (overlong, surrogate, above U+10FFFF, cut short). The
 * cursor may cross a separator, so its next bytes are gathered first. */
static size_t utf8_char_len(const cursor_t *c) {
  cursor_t k = *c;
  unsigned char buf[4];
  size_t n = 0;
  for (int b; n < sizeof(buf) && (b = cursor_peek(&k)) >= 0; cursor_next(&k))
    buf[n++] = (unsigned char)b;
  int len = n ? vs_utf8_seq(buf, n) : 0;
  return len > 0 ? (size_t)len : 0;
}

/* Whether every byte from c to the end is '.'. */
static bool all_dots(cursor_t c) {
  for (int b; (b = cursor_peek(&c)) >= 0; cursor_next(&c))
    if (b != '.')
      return false;
  return true;
}

/* Whether the 16 bytes after the cursor's '~' are 0-9a-f (the caller knows
 * they are the last 16 of the name). */
static bool hash_like_tail(const cursor_t *c) {
  cursor_t k = *c;
  for (int i = 0; i < VS_IDFIELD_HASH_LEN - 1; i++) {
    cursor_next(&k);
    int b = cursor_peek(&k);
    if (!((b >= '0' && b <= '9') || (b >= 'a' && b <= 'f')))
      return false;
  }
  return true;
}

/* "~" and 16 hex digits of the name's SHA-256, all of it. Only names that do
 * not fit get here (rare), so the checksum object allocated here costs
 * nothing in the common case; out of memory gives a hash of 0s (the field
 * stays distinct from every unhashed one). */
static void hash_suffix(char out[VS_IDFIELD_HASH_LEN], const char *const *parts,
                        size_t n, char sep) {
  uint64_t h = 0;
  GChecksum *s = g_checksum_new(G_CHECKSUM_SHA256);
  if (s) {
    for (size_t i = 0; i < n; i++) {
      if (i > 0 && sep)
        g_checksum_update(s, (const guchar *)&sep, 1);
      if (parts[i])
        g_checksum_update(s, (const guchar *)parts[i],
                          (gssize)strlen(parts[i]));
    }
    guint8 digest[32];
    gsize len = sizeof(digest);
    g_checksum_get_digest(s, digest, &len);
    g_checksum_free(s);
    for (int i = 0; i < 8; i++)
      h = (h << 8) | digest[i];
  }
  out[0] = '~';
  for (int i = 0; i < 16; i++)
    out[1 + i] = hex_lower[(h >> (60 - 4 * i)) & 0xF];
}

bool vs_idfield_join(char *dst, size_t dst_size, const char *const parts[],
                     size_t n, char sep) {
  if (dst_size == 0)
    return true;
  size_t room = (dst_size < VS_IDENT_MAX ? dst_size : VS_IDENT_MAX) - 1;
  size_t len = 0; /* of the whole name */
  for (size_t i = 0; i < n; i++)
    len += (i > 0 && sep ? 1 : 0) + (parts[i] ? strlen(parts[i]) : 0);
  if (room == 0) {
    dst[0] = '\0';
    return len != 0;
  }

  cursor_t c = cursor_start(parts, n, sep);
  /* "." and ".." are escaped whole: as kept bytes they would walk the
   * directory tree of every file writer. */
  bool dots = len > 0 && len <= 2 && all_dots(c);
  size_t budget = room > VS_IDFIELD_HASH_LEN ? room - VS_IDFIELD_HASH_LEN : 0;
  size_t out = 0, keep = 0; /* keep: where a cut field ends */
  bool changed = len == 0;
  if (len == 0) {
    /* NUL is the one byte no name holds, so "%00" stands for "". */
    if (room >= 3) {
      memcpy(dst, "%00", 3);
      out = 3;
    } else {
      out = room + 1; /* does not fit: suffix */
    }
  }
  size_t pos = 0; /* in the name */
  for (int b; out <= room && (b = cursor_peek(&c)) >= 0;) {
    char tok[4];
    size_t tlen = 0, step = 1;
    if (!dots && b >= 0x80 && (step = utf8_char_len(&c)) > 0) {
      for (size_t i = 0; i < step; i++) {
        tok[i] = (char)cursor_peek(&c);
        if (i + 1 < step)
          cursor_next(&c);
      }
      tlen = step;
    } else if (!dots && kept_ascii(b) &&
               !(b == '~' && pos + VS_IDFIELD_HASH_LEN == len &&
                 hash_like_tail(&c))) {
      step = 1;
      tok[0] = (char)b;
      tlen = 1;
    } else {
      step = 1;
      tok[0] = '%';
      tok[1] = hex_upper[b >> 4];
      tok[2] = hex_upper[b & 0xF];
      tlen = 3;
      changed = true;
    }
    cursor_next(&c);
    pos += step;
    if (out + tlen > room) {
      out = room + 1; /* does not fit */
      break;
    }
    memcpy(dst + out, tok, tlen);
    out += tlen;
    if (out <= budget)
      keep = out;
  }
  if (out <= room) {
    dst[out] = '\0';
    return changed;
  }

  char suffix[VS_IDFIELD_HASH_LEN];
  hash_suffix(suffix, parts, n, sep);
  /* A buffer too small for the whole suffix gets its start: bounded and
   * well-formed, though no longer one-to-one. */
  size_t slen = room < VS_IDFIELD_HASH_LEN ? room : VS_IDFIELD_HASH_LEN;
  memcpy(dst + keep, suffix, slen);
  dst[keep + slen] = '\0';
  return true;
}

bool vs_idfield(char *dst, size_t dst_size, const char *src) {
  const char *parts[] = {src};
  return vs_idfield_join(dst, dst_size, parts, 1, '\0');
}
