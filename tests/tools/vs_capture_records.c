/* vs_capture_records - dump libvirt bulk statistics records as text
 * fixtures for the unit tests (files in tests/fixtures).
 *
 * Usage: vs_capture_records URI PREFIX
 * Writes every running domain whose name starts with PREFIX, all groups the
 * plugin knows, one "name type value" line per typed parameter. */
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <string.h>

#include "common/vs_error.h"
#include "common/vs_virt.h"

static const char *type_name(int t) {
  switch (t) {
  case VIR_TYPED_PARAM_INT:
    return "int";
  case VIR_TYPED_PARAM_UINT:
    return "uint";
  case VIR_TYPED_PARAM_LLONG:
    return "llong";
  case VIR_TYPED_PARAM_ULLONG:
    return "ullong";
  case VIR_TYPED_PARAM_DOUBLE:
    return "double";
  case VIR_TYPED_PARAM_BOOLEAN:
    return "boolean";
  case VIR_TYPED_PARAM_STRING:
    return "string";
  default:
    return "unknown";
  }
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s URI PREFIX\n", argv[0]);
    return 2;
  }
  vs_error_t err = {0};
  _cleanup_conn_ virConnectPtr conn = vs_virt_open(argv[1], true, &err);
  if (!conn) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  unsigned stats = VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL |
                   VIR_DOMAIN_STATS_BALLOON | VIR_DOMAIN_STATS_VCPU |
                   VIR_DOMAIN_STATS_INTERFACE | VIR_DOMAIN_STATS_BLOCK |
                   VIR_DOMAIN_STATS_PERF;
  virDomainStatsRecordPtr *recs = NULL;
  int n =
      virConnectGetAllDomainStats(conn, stats, &recs,
                                  VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE |
                                      VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT);
  if (n < 0) {
    fprintf(stderr, "virConnectGetAllDomainStats: %s\n",
            virGetLastErrorMessage());
    return 1;
  }
  printf("# libvirt bulk statistics records (virConnectGetAllDomainStats,\n"
         "# groups state cpu-total balloon vcpu interface block perf, NOWAIT)\n"
         "# captured from %s by tests/tools/vs_capture_records\n",
         argv[1]);
  for (int i = 0; i < n; i++) {
    const char *name = virDomainGetName(recs[i]->dom);
    if (strncmp(name, argv[2], strlen(argv[2])) != 0)
      continue;
    printf("record %s\n", name);
    for (int p = 0; p < recs[i]->nparams; p++) {
      const virTypedParameter *tp = &recs[i]->params[p];
      printf("%s %s ", tp->field, type_name(tp->type));
      switch (tp->type) {
      case VIR_TYPED_PARAM_INT:
        printf("%d\n", tp->value.i);
        break;
      case VIR_TYPED_PARAM_UINT:
        printf("%u\n", tp->value.ui);
        break;
      case VIR_TYPED_PARAM_LLONG:
        printf("%lld\n", tp->value.l);
        break;
      case VIR_TYPED_PARAM_ULLONG:
        printf("%llu\n", tp->value.ul);
        break;
      case VIR_TYPED_PARAM_DOUBLE:
        printf("%.17g\n", tp->value.d);
        break;
      case VIR_TYPED_PARAM_BOOLEAN:
        printf("%d\n", tp->value.b);
        break;
      case VIR_TYPED_PARAM_STRING:
        printf("%s\n", tp->value.s);
        break;
      default:
        printf("?\n");
        break;
      }
    }
    printf("end\n");
  }
  virDomainStatsRecordListFree(recs);
  return 0;
}
