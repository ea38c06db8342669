/* virtscale - walking libvirt typed parameters (virTypedParameter). */
#pragma once

#include <libvirt/libvirt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The numeric value of p as an unsigned 64-bit integer. Returns false (and
 * leaves *ret alone) for strings, doubles, booleans and negative values:
 * libvirt marks "not available" with -1 in several places. */
bool vs_tparam_u64(const virTypedParameter *p, uint64_t *ret);

/* Split a field name "<prefix><index>.<rest>" such as "block.12.rd.reqs"
 * (prefix "block.") into index 12 and rest "rd.reqs" (pointing into name).
 * The index is a plain decimal (no sign, no leading zeros except "0").
 * Returns 1 when split, 0 when name does not have that shape, -ERANGE when
 * it does but the index is max or more. */
int vs_tparam_split_index(const char *name, const char *prefix, unsigned max,
                          unsigned *ret_idx, const char **ret_rest);

/* Position of name in a table of n strings (NULL entries are skipped),
 * or -1. */
int vs_name_index(const char *const *table, size_t n, const char *name);
