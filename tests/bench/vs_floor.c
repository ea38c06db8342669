/* vsfloor - a collectd read plugin for the benchmarks only: every read it
 * dispatches a fixed list of value lists and does nothing else (no libvirt,
 * no I/O). Run with the identifiers another plugin wrote, it measures what
 * collectd itself spends dispatching that many values: the floor no sampling
 * plugin can go below (tests/bench/benchmarks.py, section "limits").
 *
 *   LoadPlugin vsfloor
 *   <Plugin vsfloor>
 *     IdentifierFile "/path/ids"   # one "host/plugin[-pinst]/type[-tinst]" per
 * line
 *   </Plugin>
 *
 * Each value list keeps its identifier (so the cache and the writers see the
 * same keys), with as many values as its type has data sources (types.db),
 * each a changing counter or gauge. Not installed; built by the benchmark. */
#include "collectd/core/daemon/collectd.h"
#include "collectd/core/daemon/plugin.h"
#include "collectd/core/utils/common/common.h"
#include "collectd/liboconfig/oconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  char host[DATA_MAX_NAME_LEN], plugin[DATA_MAX_NAME_LEN];
  char plugin_instance[DATA_MAX_NAME_LEN], type[DATA_MAX_NAME_LEN];
  char type_instance[DATA_MAX_NAME_LEN];
  size_t nds;
  int ds_type[4];
} floor_id_t;

static floor_id_t *ids;
static size_t nids;
static char *id_file;
static uint64_t tick;

/* "a-b" -> a, b (b "" without a dash); dst sizes DATA_MAX_NAME_LEN. */
static void split_dash(const char *s, char *a, char *b) {
  const char *d = strchr(s, '-');
  size_t n = d ? (size_t)(d - s) : strlen(s);
  if (n >= DATA_MAX_NAME_LEN)
    n = DATA_MAX_NAME_LEN - 1;
  memcpy(a, s, n);
  a[n] = '\0';
  sstrncpy(b, d ? d + 1 : "", DATA_MAX_NAME_LEN);
}

/* host/plugin[-pinst]/type[-tinst]; the type must be in types.db. */
static int parse_id(char *line, floor_id_t *id) {
  char *p1 = strchr(line, '/');
  char *p2 = p1 ? strchr(p1 + 1, '/') : NULL;
  if (!p2)
    return -1;
  *p1 = *p2 = '\0';
  sstrncpy(id->host, line, sizeof(id->host));
  split_dash(p1 + 1, id->plugin, id->plugin_instance);
  split_dash(p2 + 1, id->type, id->type_instance);
  const data_set_t *ds = plugin_get_ds(id->type);
  if (!ds || ds->ds_num == 0 || ds->ds_num > 4)
    return -1;
  id->nds = ds->ds_num;
  for (size_t i = 0; i < ds->ds_num; i++)
    id->ds_type[i] = ds->ds[i].type;
  return 0;
}

static int floor_config(oconfig_item_t *ci) {
  for (int i = 0; i < ci->children_num; i++) {
    oconfig_item_t *c = ci->children + i;
    if (strcasecmp(c->key, "IdentifierFile") == 0) {
      if (cf_util_get_string(c, &id_file) != 0)
        return -1;
    } else {
      ERROR("vsfloor plugin: unknown option \"%s\"", c->key);
      return -1;
    }
  }
  return 0;
}

static int floor_init(void) {
  if (!id_file) {
    ERROR("vsfloor plugin: IdentifierFile is required");
    return -1;
  }
  FILE *f = fopen(id_file, "r");
  if (!f) {
    ERROR("vsfloor plugin: cannot open %s", id_file);
    return -1;
  }
  char line[1024];
  size_t lineno = 0;
  while (fgets(line, sizeof(line), f)) {
    lineno++;
    line[strcspn(line, "\r\n")] = '\0';
    if (!line[0])
      continue;
    floor_id_t *grown = realloc(ids, (nids + 1) * sizeof(*grown));
    if (!grown)
      break;
    ids = grown;
    if (parse_id(line, &ids[nids]) == 0)
      nids++;
    else
      WARNING("vsfloor plugin: %s:%zu: not an identifier of a known type",
              id_file, lineno);
  }
  fclose(f);
  INFO("vsfloor plugin: %zu identifiers", nids);
  return nids ? 0 : -1;
}

static int floor_read(void) {
  tick++;
  cdtime_t now = cdtime();
  for (size_t i = 0; i < nids; i++) {
    const floor_id_t *id = &ids[i];
    value_t v[4];
    for (size_t k = 0; k < id->nds; k++) {
      if (id->ds_type[k] == DS_TYPE_GAUGE)
        v[k].gauge = (gauge_t)(tick % 100);
      else if (id->ds_type[k] == DS_TYPE_DERIVE)
        v[k].derive = (derive_t)(tick * 1000 + i);
      else if (id->ds_type[k] == DS_TYPE_ABSOLUTE)
        v[k].absolute = (absolute_t)tick;
      else
        v[k].counter = (counter_t)(tick * 1000 + i);
    }
    value_list_t vl = VALUE_LIST_INIT;
    vl.values = v;
    vl.values_len = id->nds;
    vl.time = now;
    sstrncpy(vl.host, id->host, sizeof(vl.host));
    sstrncpy(vl.plugin, id->plugin, sizeof(vl.plugin));
    sstrncpy(vl.plugin_instance, id->plugin_instance,
             sizeof(vl.plugin_instance));
    sstrncpy(vl.type, id->type, sizeof(vl.type));
    sstrncpy(vl.type_instance, id->type_instance, sizeof(vl.type_instance));
    plugin_dispatch_values(&vl);
  }
  return 0;
}

static int floor_shutdown(void) {
  free(ids);
  ids = NULL;
  nids = 0;
  free(id_file);
  id_file = NULL;
  return 0;
}

__attribute__((visibility("default"))) void module_register(void) {
  plugin_register_complex_config("vsfloor", floor_config);
  plugin_register_init("vsfloor", floor_init);
  plugin_register_read("vsfloor", floor_read);
  plugin_register_shutdown("vsfloor", floor_shutdown);
}
