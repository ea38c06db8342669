#include "vs_start_select.h"

#include <errno.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "common/vs_executor.h"
#include "common/vs_time.h"
#include "common/vs_virt.h"
#include "vs_start_virt.h"

void vs_vms_free(vs_vm_t *vms, size_t n) {
  if (!vms)
    return;
  for (size_t i = 0; i < n; i++)
    vs_vm_clear(&vms[i]);
  free(vms);
}

typedef struct {
  vs_vm_t *vms;
  size_t n;
  vs_executor_t *ex; /* runs the libvirt calls, each given
                        VS_VIRT_CALL_TIMEOUT_S */
} list_t;

static int add_vm(list_t *l, virDomainPtr dom, unsigned group,
                  const vs_ready_t *ready, double timeout_s, const char *where,
                  vs_error_t *err) {
  const char *name = virDomainGetName(dom);
  unsigned char uuid[VIR_UUID_BUFLEN];
  if (!name || virDomainGetUUID(dom, uuid) < 0)
    return vs_error_set_virt(err, -EIO, "%s: cannot read the domain's name",
                             where);
  for (size_t i = 0; i < l->n; i++)
    if (memcmp(l->vms[i].uuid_raw, uuid, VIR_UUID_BUFLEN) == 0)
      return vs_error_set(err, -EINVAL, "%s: domain '%s' is named twice", where,
                          name);
  vs_error_t e = {0};
  int active = vs_vcall_is_active(l->ex, dom, vs_virt_call_deadline(0), &e);
  int persistent =
      active < 0
          ? active
          : vs_vcall_is_persistent(l->ex, dom, vs_virt_call_deadline(0), &e);
  if (active < 0 || persistent < 0)
    return vs_error_set(err, e.code, "%s: domain '%s': %s", where, name, e.msg);
  if (active)
    return vs_error_set(err, -EINVAL, "%s: domain '%s' is already running",
                        where, name);
  if (!persistent)
    return vs_error_set(err, -EINVAL,
                        "%s: domain '%s' is transient (nothing to start)",
                        where, name);
  vs_vm_t *grown = realloc(l->vms, (l->n + 1) * sizeof(*grown));
  if (!grown)
    return vs_error_set(err, -ENOMEM, "out of memory");
  l->vms = grown;
  vs_vm_t *vm = &l->vms[l->n];
  memset(vm, 0, sizeof(*vm));
  l->n++;
  vm->name = strdup(name);
  if (!vm->name)
    return vs_error_set(err, -ENOMEM, "out of memory");
  memcpy(vm->uuid_raw, uuid, VIR_UUID_BUFLEN);
  virDomainGetUUIDString(dom, vm->uuid);
  vm->group = group;
  vm->timeout_s = timeout_s;
  vm->ready.kind = ready->kind;
  if (ready->text && !(vm->ready.text = strdup(ready->text)))
    return vs_error_set(err, -ENOMEM, "out of memory");
  return 0;
}

static int cmp_dom_name(const void *a, const void *b) {
  virDomainPtr x = *(virDomainPtr const *)a, y = *(virDomainPtr const *)b;
  return strcmp(virDomainGetName(x), virDomainGetName(y));
}

static int select_listed(virConnectPtr conn, const vs_start_opts_t *opts,
                         list_t *l, vs_error_t *err) {
  virDomainPtr *doms = NULL;
  int n = vs_vcall_list(l->ex, conn,
                        VIR_CONNECT_LIST_DOMAINS_INACTIVE |
                            VIR_CONNECT_LIST_DOMAINS_PERSISTENT,
                        vs_virt_call_deadline(0), &doms, err);
  if (n < 0)
    return n;
  regex_t re;
  bool have_re = false;
  int r = 0;
  if (opts->match) {
    if (regcomp(&re, opts->match, REG_EXTENDED | REG_NOSUB) != 0)
      r = vs_error_set(err, -EINVAL, "--match '%s': bad regex", opts->match);
    else
      have_re = true;
  }
  qsort(doms, (size_t)n, sizeof(*doms), cmp_dom_name);
  size_t before = l->n;
  for (int i = 0; r == 0 && i < n; i++) {
    const char *name = virDomainGetName(doms[i]);
    if (have_re && regexec(&re, name, 0, NULL, 0) != 0)
      continue;
    /* Named explicitly too: keep the first. */
    unsigned char uuid[VIR_UUID_BUFLEN];
    bool dup = false;
    if (virDomainGetUUID(doms[i], uuid) == 0)
      for (size_t k = 0; k < l->n; k++)
        dup = dup || memcmp(l->vms[k].uuid_raw, uuid, VIR_UUID_BUFLEN) == 0;
    if (!dup)
      r = add_vm(l, doms[i], 0, &opts->ready, opts->timeout_s,
                 opts->match ? "--match" : "--all-inactive", err);
  }
  if (r == 0 && l->n == before && opts->match)
    r = vs_error_set(err, -EINVAL,
                     "--match '%s': no defined, inactive domain matches",
                     opts->match);
  else if (r == 0 && l->n == before && opts->all_inactive && l->n == 0)
    r = vs_error_set(err, -EINVAL,
                     "--all-inactive: no defined, inactive domain");
  if (have_re)
    regfree(&re);
  for (int i = 0; i < n; i++)
    virDomainFree(doms[i]);
  free(doms);
  return r;
}

int vs_start_select(virConnectPtr conn, const vs_start_opts_t *opts,
                    vs_vm_t **ret, size_t *n, vs_error_t *err) {
  list_t l = {0};
  /* One worker: the calls go one after another. */
  vs_executor_opts_t eo = {
      .name = "vs-select", .max_workers = 1, .max_abandoned = 1};
  int r = vs_executor_new(&eo, &l.ex, err);
  if (r < 0)
    return r;
  /* Named domains, group by group, in the order given. */
  for (unsigned g = 0; r == 0 && g < (opts->n_groups ? opts->n_groups : 1);
       g++) {
    for (size_t i = 0; r == 0 && i < opts->n_targets; i++) {
      const vs_start_target_t *t = &opts->targets[i];
      if (t->group != g)
        continue;
      virDomainPtr dom = NULL;
      vs_error_t e = {0};
      r = vs_vcall_lookup_name(l.ex, conn, t->name, vs_virt_call_deadline(0),
                               &dom, &e);
      if (r == -ENOENT) {
        r = vs_error_set(err, -EINVAL, "%s: unknown domain '%s'", t->where,
                         t->name);
        break;
      }
      if (r < 0) {
        r = vs_error_set(err, r, "%s: domain '%s': %s", t->where, t->name,
                         e.msg);
        break;
      }
      r = add_vm(&l, dom, g,
                 t->ready.kind != VS_READY_UNSET ? &t->ready : &opts->ready,
                 t->timeout_s > 0 ? t->timeout_s : opts->timeout_s, t->where,
                 err);
      virDomainFree(dom);
    }
  }
  if (r == 0 && (opts->match || opts->all_inactive))
    r = select_listed(conn, opts, &l, err);
  if (r == 0 && l.n == 0)
    r = vs_error_set(err, -EINVAL, "no domain to start");
  vs_executor_free(l.ex, VS_NS_PER_SEC);
  if (r < 0) {
    vs_vms_free(l.vms, l.n);
    return r;
  }
  *ret = l.vms;
  *n = l.n;
  return 0;
}
