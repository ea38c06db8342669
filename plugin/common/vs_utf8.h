/* virtscale - cutting text between UTF-8 characters, for messages of the
 * plugin and the start helper built in fixed buffers. */
#pragma once

#include <stddef.h>

/* Length (2..4) of the well-formed UTF-8 sequence at s (n >= 1 bytes left),
 * 0 when it is none (a stray continuation byte, overlong, surrogate, beyond
 * U+10FFFF), -1 when it is one cut short by the end of s. Call it on a byte
 * >= 0x80. Thread-safe. */
int vs_utf8_seq(const unsigned char *s, size_t n);

/* Length of the longest prefix of s (len bytes) that is at most max bytes
 * and does not end inside a UTF-8 character: a cut there leaves whole
 * characters only. Bytes that are not UTF-8 count as characters; a
 * character cut short at the end of s (s was cut carelessly before) is
 * left out. Thread-safe. */
size_t vs_utf8_cut(const char *s, size_t len, size_t max);

/* Drop a character cut short at the end of the NUL-terminated s in place
 * (a fixed buffer that vsnprintf filled, or a name cut carelessly before):
 * logs, JSON reports and notifications want whole characters. Returns the
 * new length. Thread-safe. */
size_t vs_utf8_trim(char *s);
