#include "vs_stats_parse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/vs_tparam.h"

unsigned vs_groups_to_virt(unsigned groups) {
  static const struct {
    vs_group_t group;
    unsigned virt;
  } map[] = {
      {VS_GROUP_STATE, VIR_DOMAIN_STATS_STATE},
      {VS_GROUP_CPU, VIR_DOMAIN_STATS_CPU_TOTAL},
      {VS_GROUP_BALLOON, VIR_DOMAIN_STATS_BALLOON},
      {VS_GROUP_VCPU, VIR_DOMAIN_STATS_VCPU},
      {VS_GROUP_INTERFACE, VIR_DOMAIN_STATS_INTERFACE},
      {VS_GROUP_BLOCK, VIR_DOMAIN_STATS_BLOCK},
      {VS_GROUP_PERF, VIR_DOMAIN_STATS_PERF},
  };
  unsigned virt = 0;
  for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
    if (groups & map[i].group)
      virt |= map[i].virt;
  return virt;
}

/* Store a numeric parameter into fields f[idx] when rest names a field. */
static void set_field(vs_fields_t *f, const char *const *names, size_t n,
                      const char *rest, const virTypedParameter *p) {
  int i = vs_name_index(names, n, rest);
  uint64_t v;
  if (i >= 0 && vs_tparam_u64(p, &v))
    vs_fields_set(f, (unsigned)i, v);
}

static int set_string(char **dst, const virTypedParameter *p) {
  if (p->type != VIR_TYPED_PARAM_STRING || !p->value.s)
    return 0;
  char *s = strdup(p->value.s);
  if (!s)
    return -ENOMEM;
  free(*dst);
  *dst = s;
  return 0;
}

/* "net.<n>.*" and "block.<n>.*" */
static int parse_device(vs_device_stats_t **arr, size_t *n, const char *rest,
                        unsigned idx, const char *const *names, size_t nnames,
                        const virTypedParameter *p) {
  if (vs_array_grow((void **)arr, n, idx, sizeof(**arr)) < 0)
    return -ENOMEM;
  vs_device_stats_t *d = &(*arr)[idx];
  if (strcmp(rest, "name") == 0)
    return set_string(&d->name, p);
  if (strcmp(rest, "path") == 0)
    return set_string(&d->path, p);
  set_field(&d->f, names, nnames, rest, p);
  return 0;
}

/* Drop devices that never got a name (libvirt always sends one; a record
 * without it cannot be given an identifier). */
static void compact_devices(vs_device_stats_t *arr, size_t *n) {
  size_t out = 0;
  for (size_t i = 0; i < *n; i++) {
    if (!arr[i].name) {
      free(arr[i].path);
      continue;
    }
    arr[out++] = arr[i];
  }
  *n = out;
}

static int parse_one(const virTypedParameter *p, vs_domain_stats_t *st) {
  const char *name = p->field;
  const char *rest;
  unsigned idx;
  uint64_t v;
  int r;

  if (strncmp(name, "state.", 6) == 0) {
    st->groups |= VS_GROUP_STATE;
    if (strcmp(name + 6, "state") == 0 && vs_tparam_u64(p, &v)) {
      st->state = (int)v;
      st->have_state = true;
    } else if (strcmp(name + 6, "reason") == 0 && vs_tparam_u64(p, &v)) {
      st->reason = (int)v;
    }
  } else if (strncmp(name, "cpu.", 4) == 0) {
    st->groups |= VS_GROUP_CPU;
    set_field(&st->cpu, vs_cpu_field_names, VS_CPU__MAX, name + 4, p);
  } else if (strncmp(name, "balloon.", 8) == 0) {
    st->groups |= VS_GROUP_BALLOON;
    set_field(&st->balloon, vs_balloon_field_names, VS_BAL__MAX, name + 8, p);
  } else if (strncmp(name, "vcpu.", 5) == 0) {
    st->groups |= VS_GROUP_VCPU;
    if (strcmp(name + 5, "current") == 0 && vs_tparam_u64(p, &v)) {
      st->vcpu_current = (unsigned)v;
      st->have_vcpu_current = true;
    } else if (strcmp(name + 5, "maximum") == 0 && vs_tparam_u64(p, &v)) {
      st->vcpu_maximum = (unsigned)v;
    } else if ((r = vs_tparam_split_index(name, "vcpu.", VS_MAX_VCPUS, &idx,
                                          &rest)) != 0) {
      if (r < 0)
        return -EINVAL;
      if (vs_name_index(vs_vcpu_field_names, VS_VCPU__MAX, rest) < 0)
        return 0; /* hypervisor-specific extras (vcpu.0.exits.sum, ...) */
      if (vs_array_grow((void **)&st->vcpu, &st->nvcpu, idx,
                        sizeof(*st->vcpu)) < 0)
        return -ENOMEM;
      set_field(&st->vcpu[idx], vs_vcpu_field_names, VS_VCPU__MAX, rest, p);
    }
  } else if (strncmp(name, "net.", 4) == 0) {
    st->groups |= VS_GROUP_INTERFACE;
    r = vs_tparam_split_index(name, "net.", VS_MAX_DEVICES, &idx, &rest);
    if (r < 0)
      return -EINVAL;
    if (r > 0)
      return parse_device(&st->net, &st->nnet, rest, idx, vs_net_field_names,
                          VS_NET__MAX, p);
  } else if (strncmp(name, "block.", 6) == 0) {
    st->groups |= VS_GROUP_BLOCK;
    r = vs_tparam_split_index(name, "block.", VS_MAX_DEVICES, &idx, &rest);
    if (r < 0)
      return -EINVAL;
    if (r > 0)
      return parse_device(&st->block, &st->nblock, rest, idx,
                          vs_block_field_names, VS_BLK__MAX, p);
  } else if (strncmp(name, "perf.", 5) == 0) {
    st->groups |= VS_GROUP_PERF;
    if (!vs_tparam_u64(p, &v) || name[5] == '\0')
      return 0;
    if (st->nperf >= VS_MAX_PERF)
      return -EINVAL;
    size_t n = st->nperf;
    if (vs_array_grow((void **)&st->perf, &n, st->nperf, sizeof(*st->perf)) < 0)
      return -ENOMEM;
    st->perf[st->nperf].name = strdup(name + 5);
    if (!st->perf[st->nperf].name)
      return -ENOMEM;
    st->perf[st->nperf].value = v;
    st->nperf = n;
  }
  return 0;
}

int vs_domain_stats_parse(const virTypedParameter *params, int nparams,
                          vs_domain_stats_t *st, vs_error_t *err) {
  for (int i = 0; i < nparams; i++) {
    int r = parse_one(&params[i], st);
    if (r < 0) {
      vs_domain_stats_clear(st);
      return vs_error_set(err, r,
                          r == -ENOMEM ? "out of memory parsing %s"
                                       : "too many entries at %s",
                          params[i].field);
    }
  }
  compact_devices(st->net, &st->nnet);
  compact_devices(st->block, &st->nblock);
  return 0;
}
