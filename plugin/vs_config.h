/* virtscale - the <Plugin virtscale> block as a plain struct.
 *
 * The collectd glue walks collectd's config tree and hands each key with its
 * values to vs_config_set(); this file knows nothing of collectd, so every
 * rule is unit-tested directly. Keys and keyword values are
 * case-insensitive, as everywhere in collectd.conf. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/vs_error.h"
#include "vs_filter.h"
#include "vs_stats.h"

typedef enum {
  VS_MODE_AUTO,       /* bulk when the driver answers the groups, else below */
  VS_MODE_BULK,       /* virConnectGetAllDomainStats */
  VS_MODE_PER_DOMAIN, /* one call per domain and item */
} vs_stats_mode_t;

/* Parts an identifier field (host, plugin instance) is built from. */
typedef enum {
  VS_PART_NAME = 1, /* domain name */
  VS_PART_UUID,     /* domain UUID */
  VS_PART_HOSTNAME, /* the hypervisor's host name (collectd's Hostname) */
} vs_ident_part_t;

#define VS_FORMAT_PARTS_MAX 4

typedef struct {
  vs_ident_part_t parts[VS_FORMAT_PARTS_MAX];
  size_t n; /* 0: empty field */
} vs_format_t;

typedef enum {
  VS_COMPAT_NONE, /* plugin "virtscale", virtscale's identifiers */
  VS_COMPAT_VIRT, /* identifiers of collectd's bundled virt plugin */
} vs_compat_t;

typedef enum {
  VS_BLOCK_FORMAT_TARGET, /* "vda" */
  VS_BLOCK_FORMAT_SOURCE, /* the source path, '/' made safe */
} vs_block_format_t;

typedef enum {
  VS_IF_FORMAT_NAME,   /* host-side device name ("vnet3") */
  VS_IF_FORMAT_NUMBER, /* 1-based position: "interface-1" */
} vs_if_format_t;

typedef struct {
  char *uri; /* NULL: libvirt's default URI; owned */
  vs_stats_mode_t mode;
  unsigned groups; /* vs_group_t bits */

  vs_filter_t domains;    /* matched on the domain name */
  vs_filter_t block_devs; /* matched on "vda" and "domain:vda" */
  vs_filter_t if_devs;    /* matched on "vnet0" and "domain:vnet0" */

  vs_format_t host_format;
  vs_format_t plugin_instance_format;
  vs_compat_t compat;
  vs_block_format_t block_format;
  bool block_format_basename; /* source format: only the file name */
  vs_if_format_t if_format;

  /* never blocking (seconds; 0: the default noted) */
  double sample_timeout;     /* 0: 3/4 of the read interval */
  double max_abandoned;      /* workers left in stuck calls, per executor */
  double keepalive_interval; /* 0: no keepalive */
  double keepalive_count;
  double blockinfo_interval; /* 0: the read interval when enabled */
  double blockinfo_timeout;  /* per virDomainGetBlockInfo call */
  bool blockinfo;            /* run the block-info thread (see BlockInfo) */
  bool blockinfo_set;        /* BlockInfo was given explicitly */
  double block_threshold;    /* percent of capacity; 0: off */
  bool state_notifications;  /* lifecycle events as notifications */

  /* scale (see vs_schedule.h) */
  double max_connections; /* statistics calls at once, one per connection */
  double stuck_threshold; /* s a monitor may stay busy; 0: from interval */
  /* a fixed sampling interval per group (s, by vs_group_index()); 0: the
   * automatic cadence */
  double group_interval[VS_NGROUPS];
} vs_config_t;

typedef enum {
  VS_CONF_STRING,
  VS_CONF_NUMBER,
  VS_CONF_BOOLEAN,
} vs_conf_type_t;

/* One value of a config line, borrowed from the caller. */
typedef struct {
  vs_conf_type_t type;
  const char *string;
  double number;
  bool boolean;
} vs_conf_value_t;

/* Set cfg to the defaults. */
void vs_config_init(vs_config_t *cfg);

/* Apply one "Key value..." line. Returns 0, or -EINVAL with a message that
 * names the key and the offending value (cfg unchanged for that key), or
 * -ENOMEM. */
int vs_config_set(vs_config_t *cfg, const char *key,
                  const vs_conf_value_t *values, size_t n, vs_error_t *err);

/* Checks that involve several keys, after the last line. Returns 0 or
 * -EINVAL with err set. */
int vs_config_finish(vs_config_t *cfg, vs_error_t *err);

/* Release what cfg owns (NULL-safe). */
void vs_config_clear(vs_config_t *cfg);

/* The i-th key vs_config_set() accepts, or NULL past the last one (for
 * docs and tests). */
const char *vs_config_key(size_t i);
