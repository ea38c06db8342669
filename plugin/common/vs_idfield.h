/* virtscale - safe collectd identifier fields from arbitrary names.
 *
 * collectd identifier fields (host, plugin instance, type instance) are
 * fixed 128-byte buffers and end up as directory and file names (csv,
 * rrdtool) and as "host/plugin-inst/type-inst" strings (unixsock, network).
 * libvirt accepts almost any UTF-8 in a domain name, and names may come
 * from elsewhere too, so any byte string is made safe here, once, for both
 * the plugin and the start helper. The mapping is one-to-one: one tenant's
 * VM name can never write another VM's values.
 *
 * The rule (docs/metrics.md, tests/integration/vstest.py safe_field()):
 *  1. A byte is kept when it is printable ASCII (0x20..0x7E) other than
 *     '/' and '%', or part of a well-formed UTF-8 character (shortest
 *     form, no surrogates, at most U+10FFFF). Every other byte - '/',
 *     '%', control characters, DEL, bytes of invalid UTF-8 - becomes '%'
 *     and two uppercase hex digits ("%2F", "%25", "%09", "%7F", "%FF").
 *     Spaces, quotes, backslashes and UTF-8 are kept: they are legal in
 *     collectd identifiers and quoting them is the transport's job.
 *  2. Names that would be special as a path component: "." becomes "%2E",
 *     ".." becomes "%2E%2E" (every byte escaped) and "" becomes "%00" (the
 *     one escape no byte of a name can produce: a C string has no NUL).
 *  3. A name that ends in '~' and 16 digits 0-9a-f gets that '~' escaped
 *     ("%7E"), so that it cannot look like rule 4's suffix.
 *  4. When the result does not fit in the field, it is cut between two of
 *     its characters or escapes (never inside either) and gets "~" plus 16
 *     lowercase hex digits: the first 64 bits of the SHA-256 of the whole
 *     original name (every byte, not the cut or escaped form).
 *
 * Why two different names never share a field (dst_size >= VS_IDENT_MAX,
 * or any dst_size > VS_IDFIELD_HASH_LEN):
 *  - Without a suffix (rules 1-3) the field can be decoded back: read '%'
 *    and two hex digits as that byte, anything else as itself. A kept byte
 *    is never '%', so the split into kept bytes and escapes is unique, and
 *    decoding gives the name back ("%00" gives NUL, which stands for ""
 *    because no name contains it). So two such fields are equal only for
 *    equal names.
 *  - A field with a suffix ends in a literal '~' and 16 digits 0-9a-f.
 *    One without cannot: an escape overlapping those 17 bytes would have
 *    its '%' before them and a hex digit where the '~' is, so all 17 would
 *    be kept bytes, i.e. the name would end in them - and rule 3 escaped
 *    that '~'.
 *  - Two fields with a suffix are equal only if the two names' SHA-256
 *    agree in 64 bits. Finding a second name for a given one costs ~2^64
 *    hash evaluations (FNV-1a, by contrast, can be inverted step by step,
 *    so a tenant could forge a name in seconds). 127 bytes cannot hold
 *    every longer name, so long names need a hash of some kind.
 * Smaller buffers: rules 1-3 and the cut still hold, but a suffix that does
 * not fit is shortened, and with it the guarantee.
 *
 * Ordinary names (kept bytes only, not "", "." or "..", not ending in '~'
 * and 16 digits 0-9a-f, at most 127 bytes) are their own field. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* collectd's DATA_MAX_NAME_LEN: field size including the terminating NUL. */
#define VS_IDENT_MAX 128

/* Length of the suffix of a shortened field: "~" + 16 hex digits. */
#define VS_IDFIELD_HASH_LEN 17

/* Write src as a safe identifier field into dst (dst_size bytes, at most
 * VS_IDENT_MAX of them used; dst_size 0 writes nothing), by the rule
 * above. The result is always valid UTF-8 and NUL-terminated, holds no '/'
 * and no control character and, when dst_size > 1, is never "", "." or
 * "..". Returns false when dst holds src unchanged, true otherwise.
 * Thread-safe; allocates only to hash a name that does not fit. */
bool vs_idfield(char *dst, size_t dst_size, const char *src);

/* As vs_idfield() for the name parts[0] sep parts[1] ... sep parts[n-1]
 * (a NULL part counts as ""; sep '\0' joins without separator), without
 * building that name: the hash covers all of it, however long. n == 0 is
 * the empty name. Thread-safe; allocates only to hash a name that does not
 * fit. */
bool vs_idfield_join(char *dst, size_t dst_size, const char *const parts[],
                     size_t n, char sep);
