/* virtscale - domain lifecycle events as collectd notifications. The texts
 * are the ones collectd's bundled virt plugin sends ("Domain state: %s.
 * Reason: %s"), so notification filters written for it keep matching. */
#pragma once

#include "vs_config.h"
#include "vs_sink.h"
#include "vs_virt_api.h"

/* Turn a lifecycle event (virDomainEventType, detail) into a state
 * notification for d (none for define/undefine, none for a domain the
 * Domain filter leaves out). Thread-safe (event loop thread). */
void vs_lifecycle_note(const vs_config_t *cfg, const char *hostname,
                       const vs_sink_t *sink, const vs_event_domain_t *d,
                       int event, int detail);

/* Text of a domain state, as the bundled virt plugin words it ("the domain
 * is running"). */
const char *vs_state_text(int state);
