/* virtscale - safe collectd identifier fields from arbitrary names.
 *
 * collectd identifier fields (host, plugin instance, type instance) are
 * fixed 128-byte buffers and end up as directory and file names (csv,
 * rrdtool) and as "host/plugin-inst/type-inst" strings (unixsock, network).
 * libvirt accepts almost any UTF-8 in a domain name, so names are made safe
 * here, once, for both the plugin and the start helper. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* collectd's DATA_MAX_NAME_LEN: field size including the terminating NUL. */
#define VS_IDENT_MAX 128

/* Copy src into dst (dst_size bytes, at most VS_IDENT_MAX used) as a safe
 * identifier field:
 *  - '/' (a path separator in every file writer) and ASCII control
 *    characters become '_';
 *  - "" becomes "_", "." and ".." become "_" and "__" (never a directory
 *    walk);
 *  - a name that does not fit is cut at a UTF-8 character boundary and gets
 *    "~" plus 8 hex digits of a hash of the whole name, so two long names
 *    with a common prefix stay distinct.
 * Spaces, quotes, backslashes and UTF-8 are kept: they are legal in collectd
 * identifiers and quoting them is the transport's job.
 * Returns true when the result differs from src. Thread-safe. */
bool vs_idfield(char *dst, size_t dst_size, const char *src);
