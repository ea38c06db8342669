/* virtscale - the collectd side: module_register, config/read/shutdown
 * callbacks, mapping of the core's plain structs to value lists, logging.
 * The only file that includes collectd headers. */
#include "collectd/core/daemon/collectd.h"
#include "collectd/core/daemon/plugin.h"
#include "collectd/core/daemon/utils_complain.h"
#include "collectd/core/utils/common/common.h"
#include "collectd/liboconfig/oconfig.h"

#include "common/vs_idfield.h"
#include "common/vs_time.h"
#include "vs_config.h"
#include "vs_core.h"
#include "vs_metrics.h"
#include "vs_sample.h"

#define PLUGIN_NAME "virtscale"

/* One <Plugin virtscale> block: everything the read callback needs, owned
 * by its user_data_t and freed by instance_free(). The read callback is the
 * only thread that touches it, so it needs no lock. */
typedef struct {
  char name[DATA_MAX_NAME_LEN]; /* read callback name */
  vs_config_t cfg;              /* immutable once registered */
  vs_core_t *core; /* created on the first read, when hostname_g is final */
  c_complain_t conn_complaint;
  c_complain_t stall_complaint;
  c_complain_t failure_complaint;
  bool setup_failed; /* the core could not be set up (logged once) */
  /* Plugin instance of the self-metrics and of the connection's
   * notifications: empty with one block, the URI with several. */
  char self_instance[DATA_MAX_NAME_LEN];
  vs_sample_mode_t logged_mode; /* 0: the mode in use is not logged yet */
} instance_t;

/* How many <Plugin virtscale> blocks were seen: with none, the init callback
 * registers one instance with the defaults. Written by the config and init
 * callbacks, which collectd runs one after another on its main thread. */
static int instances_configured;

static void instance_free(void *arg) {
  instance_t *inst = arg;
  if (!inst)
    return;
  vs_core_free(inst->core);
  vs_config_clear(&inst->cfg);
  free(inst);
}

/* --- dispatch -------------------------------------------------------- */

typedef struct {
  value_list_t *vl;
  unsigned dispatched;
} dispatch_ctx_t;

static void dispatch_metric(void *ud, const vs_metric_t *m) {
  dispatch_ctx_t *d = ud;
  value_t values[2];
  for (unsigned i = 0; i < m->nvalues; i++) {
    if (m->values[i].kind == VS_DS_GAUGE)
      values[i].gauge = m->values[i].gauge;
    else
      values[i].derive = m->values[i].derive;
  }
  d->vl->values = values;
  d->vl->values_len = m->nvalues;
  sstrncpy(d->vl->type, m->type, sizeof(d->vl->type));
  sstrncpy(d->vl->type_instance, m->type_instance,
           sizeof(d->vl->type_instance));
  if (plugin_dispatch_values(d->vl) == 0)
    d->dispatched++;
}

/* One answer's values, at the time libvirt answered and with the interval
 * its groups are sampled at (so collectd's cache and thresholds expect the
 * next one when it comes). */
static unsigned dispatch_result(instance_t *inst, const vs_metrics_opts_t *o,
                                const vs_domain_result_t *r) {
  value_list_t vl = VALUE_LIST_INIT;
  vl.time = NS_TO_CDTIME_T(r->wall_ns);
  vl.interval = NS_TO_CDTIME_T(r->interval_ns);
  sstrncpy(vl.plugin, vs_metrics_plugin_name(inst->cfg.compat),
           sizeof(vl.plugin));
  sstrncpy(vl.host, r->label->host, sizeof(vl.host));
  sstrncpy(vl.plugin_instance, r->label->plugin_instance,
           sizeof(vl.plugin_instance));
  dispatch_ctx_t d = {.vl = &vl};
  vs_metrics_opts_t opts = *o;
  opts.groups = r->st.groups;
  vs_metrics_extra_t x = {.domain_name = r->label->name,
                          .have_cpu_percent = r->have_cpu_percent,
                          .cpu_percent = r->cpu_percent};
  vs_metrics_domain(&opts, &r->st, &x, dispatch_metric, &d);
  return d.dispatched;
}

static unsigned dispatch_domains(instance_t *inst, const vs_sample_t *s,
                                 cdtime_t now, cdtime_t interval) {
  vs_metrics_opts_t opts = vs_metrics_opts_from_config(&inst->cfg);
  unsigned n = 0;
  for (size_t i = 0; i < s->nresults; i++)
    n += dispatch_result(inst, &opts, &s->results[i]);
  /* gauge-unresponsive: every running domain, every read. */
  value_list_t vl = VALUE_LIST_INIT;
  vl.time = now;
  vl.interval = interval;
  sstrncpy(vl.plugin, vs_metrics_plugin_name(inst->cfg.compat),
           sizeof(vl.plugin));
  dispatch_ctx_t d = {.vl = &vl};
  opts.groups = 0;
  vs_domain_stats_t none = {0};
  for (size_t i = 0; i < s->nstatus; i++) {
    const vs_domain_status_t *st = &s->status[i];
    sstrncpy(vl.host, st->label->host, sizeof(vl.host));
    sstrncpy(vl.plugin_instance, st->label->plugin_instance,
             sizeof(vl.plugin_instance));
    vs_metrics_extra_t x = {.domain_name = st->label->name,
                            .have_unresponsive = true,
                            .unresponsive = st->unresponsive};
    vs_metrics_domain(&opts, &none, &x, dispatch_metric, &d);
  }
  return n + d.dispatched;
}

static double ns_to_s(uint64_t ns) { return (double)ns / 1e9; }

/* Self-metrics, under the hypervisor's own host name. */
static void dispatch_self(const instance_t *inst, const vs_sample_t *s,
                          cdtime_t now, cdtime_t interval) {
  const vs_self_t *f = &s->self;
  struct {
    const char *type, *type_instance;
    bool derive;
    double value;
  } self[] = {
      {"duration", "sample", false, ns_to_s(f->duration_ns)},
      {"duration", "round_free", false, ns_to_s(f->round_free_ns)},
      {"duration", "round_monitor", false, ns_to_s(f->round_monitor_ns)},
      {"duration", "age_p50", false, ns_to_s(f->age_p50_ns)},
      {"duration", "age_max", false, ns_to_s(f->age_max_ns)},
      {"count", "domains", false, (double)f->domains},
      {"count", "sampled", false, (double)f->sampled},
      {"count", "late", false, (double)f->late},
      {"count", "skipped", false, (double)f->skipped},
      {"count", "in_flight", false, (double)f->in_flight},
      {"count", "connections", false, (double)f->lanes},
      {"count", "cadence", false, (double)f->cadence},
      {"count", "libvirt_calls", false, (double)f->calls},
      {"count", "errors", false, (double)f->errors},
      {"count", "unresponsive_domains", false, (double)f->unresponsive},
      {"count", "abandoned_workers", false, (double)f->abandoned_now},
      {"total_operations", "abandoned_calls", true, (double)f->abandoned_total},
      {"total_operations", "reconnects", true, (double)f->reconnects_total},
      {"total_operations", "blockinfo_timeouts", true,
       (double)f->blockinfo_timeouts_total},
  };
  value_list_t vl = VALUE_LIST_INIT;
  value_t v;
  vl.values = &v;
  vl.values_len = 1;
  vl.time = now;
  vl.interval = interval;
  sstrncpy(vl.plugin, PLUGIN_NAME, sizeof(vl.plugin));
  sstrncpy(vl.plugin_instance, inst->self_instance, sizeof(vl.plugin_instance));
  for (size_t i = 0; i < sizeof(self) / sizeof(self[0]); i++) {
    if (self[i].derive)
      v.derive = (derive_t)self[i].value;
    else
      v.gauge = self[i].value;
    sstrncpy(vl.type, self[i].type, sizeof(vl.type));
    sstrncpy(vl.type_instance, self[i].type_instance, sizeof(vl.type_instance));
    plugin_dispatch_values(&vl);
  }
}

/* --- notifications (any thread) ---------------------------------------- */

static void sink_notify(void *ud, const vs_note_t *n) {
  /* only its immutable cfg and self_instance are read */
  const instance_t *inst = ud;
  notification_t notif = {.severity = (int)n->severity, .time = cdtime()};
  sstrncpy(notif.host, n->host ? n->host : hostname_g, sizeof(notif.host));
  sstrncpy(notif.plugin,
           n->host ? vs_metrics_plugin_name(inst->cfg.compat) : PLUGIN_NAME,
           sizeof(notif.plugin));
  sstrncpy(notif.plugin_instance,
           n->host ? (n->plugin_instance ? n->plugin_instance : "")
                   : inst->self_instance,
           sizeof(notif.plugin_instance));
  sstrncpy(notif.type, n->type, sizeof(notif.type));
  sstrncpy(notif.type_instance, n->type_instance ? n->type_instance : "",
           sizeof(notif.type_instance));
  sstrncpy(notif.message, n->message, sizeof(notif.message));
  plugin_dispatch_notification(&notif);
}

static const char *mode_name(vs_sample_mode_t m) {
  return m == VS_SAMPLE_PER_DOMAIN ? "per-domain" : "bulk";
}

static void log_round(instance_t *inst, const vs_sample_t *s) {
  const char *uri =
      vs_core_uri(inst->core) ? vs_core_uri(inst->core) : "libvirt";
  if (s->connected) {
    INFO(PLUGIN_NAME " plugin: connected to %s", uri);
    inst->logged_mode = 0;
  }
  if (s->mode && inst->logged_mode != s->mode) {
    INFO(PLUGIN_NAME " plugin: sampling %s with %s statistics", uri,
         mode_name(s->mode));
    inst->logged_mode = s->mode;
  }
  if (s->plan[0])
    INFO(PLUGIN_NAME " plugin: %s", s->plan);
  /* One line per domain when a problem starts, none while it lasts. */
  for (size_t i = 0; i < s->nproblems; i++)
    if (s->problems[i].first)
      WARNING(PLUGIN_NAME " plugin: domain \"%s\": %s", s->problems[i].domain,
              s->problems[i].message);
  for (size_t i = 0; i < s->ngone; i++)
    INFO(PLUGIN_NAME " plugin: domain \"%s\" is no longer running", s->gone[i]);
}

static int instance_read(user_data_t *ud) {
  instance_t *inst = ud->data;
  vs_error_t err = {0};
  cdtime_t interval = plugin_get_interval();
  if (!inst->core) {
    /* Several blocks (one per URI) would write the same self-metrics: each
     * gets its URI as plugin instance (escaped like every identifier). The
     * count is final once collectd reads. */
    if (instances_configured > 1)
      vs_idfield(inst->self_instance, sizeof(inst->self_instance),
                 inst->cfg.uri ? inst->cfg.uri : "default");
    vs_sink_t sink = {.ud = inst, .notify = sink_notify};
    if (vs_core_new(&inst->cfg, hostname_g, CDTIME_T_TO_NS(interval), &sink,
                    NULL, &inst->core, &err) < 0) {
      /* Tried again every read, logged once: an error returned to
       * collectd would make it wait ever longer between reads (up to a
       * day) long after the cause is gone. */
      if (!inst->setup_failed)
        ERROR(PLUGIN_NAME " plugin: cannot set up sampling: %s; trying "
                          "again every interval",
              err.msg);
      inst->setup_failed = true;
      return 0;
    }
    if (inst->setup_failed)
      INFO(PLUGIN_NAME " plugin: sampling set up");
    inst->setup_failed = false;
  }

  /* Wait for libvirt at most SampleTimeout (default: 3/4 of the interval,
   * leaving the rest for dispatching). */
  uint64_t budget = inst->cfg.sample_timeout > 0
                        ? (uint64_t)(inst->cfg.sample_timeout * 1e9)
                        : CDTIME_T_TO_NS(interval) / 4 * 3;
  vs_sample_t s = {0};
  int r = vs_core_sample(inst->core, vs_now_ns() + budget, &s, &err);
  cdtime_t now = cdtime();
  if (r < 0) {
    c_complain(LOG_ERR, &inst->conn_complaint,
               PLUGIN_NAME " plugin: not connected: %s", err.msg);
  } else {
    if (inst->conn_complaint.interval != 0)
      c_release(LOG_INFO, &inst->conn_complaint,
                PLUGIN_NAME " plugin: connected again");
    if (s.stalled)
      c_complain(LOG_WARNING, &inst->stall_complaint,
                 PLUGIN_NAME " plugin: libvirtd does not answer: %s; nothing "
                             "sampled",
                 err.msg[0] ? err.msg : "no call answered in time");
    else if (inst->stall_complaint.interval != 0)
      c_release(LOG_INFO, &inst->stall_complaint,
                PLUGIN_NAME " plugin: libvirtd answers again");
    if (s.failure[0])
      c_complain(LOG_WARNING, &inst->failure_complaint,
                 PLUGIN_NAME " plugin: statistics calls fail: %s", s.failure);
    else if (inst->failure_complaint.interval != 0 && s.self.calls > 0)
      c_release(LOG_INFO, &inst->failure_complaint,
                PLUGIN_NAME " plugin: statistics calls answer again");
    log_round(inst, &s);
    dispatch_domains(inst, &s, now, interval);
  }
  dispatch_self(inst, &s, now, interval);
  vs_sample_clear(&s);
  /* Never an error for collectd: its back-off would keep data away long
   * after libvirtd is back; the core reconnects on its own schedule. */
  return 0;
}

/* --- configuration ---------------------------------------------------- */

static int apply_item(instance_t *inst, const oconfig_item_t *ci) {
  vs_error_t err = {0};
  if (ci->children_num > 0) {
    ERROR(PLUGIN_NAME " plugin: option \"%s\" does not take a block", ci->key);
    return -1;
  }
  vs_conf_value_t *v = calloc(ci->values_num ? ci->values_num : 1, sizeof(*v));
  if (!v)
    return -1;
  for (int i = 0; i < ci->values_num; i++) {
    const oconfig_value_t *ov = &ci->values[i];
    switch (ov->type) {
    case OCONFIG_TYPE_STRING:
      v[i].type = VS_CONF_STRING;
      v[i].string = ov->value.string;
      break;
    case OCONFIG_TYPE_NUMBER:
      v[i].type = VS_CONF_NUMBER;
      v[i].number = ov->value.number;
      break;
    default:
      v[i].type = VS_CONF_BOOLEAN;
      v[i].boolean = ov->value.boolean != 0;
      break;
    }
  }
  int r = vs_config_set(&inst->cfg, ci->key, v, (size_t)ci->values_num, &err);
  free(v);
  if (r < 0) {
    ERROR(PLUGIN_NAME " plugin: %s", err.msg);
    return -1;
  }
  return 0;
}

static int register_instance(instance_t *inst) {
  /* One read callback per <Plugin virtscale> block, named after its URI, so
   * two blocks for the same connection are refused by collectd. */
  snprintf(inst->name, sizeof(inst->name), PLUGIN_NAME "/%s",
           inst->cfg.uri ? inst->cfg.uri : "default");
  c_complain_t init = C_COMPLAIN_INIT_STATIC;
  inst->conn_complaint = init;
  inst->stall_complaint = init;
  inst->failure_complaint = init;
  return plugin_register_complex_read(
      /* group = */ NULL, inst->name, instance_read, /* interval = */ 0,
      &(user_data_t){.data = inst, .free_func = instance_free});
}

static int config_cb(oconfig_item_t *ci) {
  instance_t *inst = calloc(1, sizeof(*inst));
  if (!inst)
    return -1;
  vs_config_init(&inst->cfg);
  for (int i = 0; i < ci->children_num; i++)
    if (apply_item(inst, &ci->children[i]) < 0) {
      instance_free(inst);
      return -1;
    }
  vs_error_t err = {0};
  if (vs_config_finish(&inst->cfg, &err) < 0) {
    ERROR(PLUGIN_NAME " plugin: %s", err.msg);
    instance_free(inst);
    return -1;
  }
  instances_configured++;
  if (register_instance(inst) != 0) {
    ERROR(PLUGIN_NAME " plugin: a <Plugin " PLUGIN_NAME "> block for %s "
                      "already exists",
          inst->cfg.uri ? inst->cfg.uri : "the default connection");
    /* On failure collectd has already released user_data. */
    return -1;
  }
  return 0;
}

static int init_cb(void) {
  if (instances_configured > 0)
    return 0;
  instance_t *inst = calloc(1, sizeof(*inst));
  if (!inst)
    return -1;
  vs_config_init(&inst->cfg);
  instances_configured++;
  return register_instance(inst) == 0 ? 0 : -1;
}

__attribute__((visibility("default"))) void module_register(void) {
  plugin_register_complex_config(PLUGIN_NAME, config_cb);
  plugin_register_init(PLUGIN_NAME, init_cb);
}
