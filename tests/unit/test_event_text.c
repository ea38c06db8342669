/* Lifecycle event texts: vs_event_what() / vs_event_reason()
 * (common/vs_event_text.h), the plugin's state notifications built from
 * them (vs_lifecycle_note) and the start helper's "domain ... while
 * starting" wording. The notification texts are the bundled virt plugin's;
 * tests/fault/test_fault_churn.py and tests/integration/test_sampling.py
 * match them on real events. */
#include <libvirt/libvirt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/vs_event_text.h"
#include "vs_lifecycle.h"
#include "vs_test_fixtures.h"

/* Every STARTED, STOPPED and CRASHED detail the plugin reports and the
 * helper watches for, and the other events' details, with their reasons. */
static const struct {
  int event, detail;
  const char *reason;
} reason_cases[] = {
    {VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_BOOTED,
     "normal startup from boot"},
    {VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_MIGRATED,
     "migrated from another host"},
    {VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_RESTORED,
     "restored from a state file"},
    {VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_FROM_SNAPSHOT,
     "restored from snapshot"},
    {VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_WAKEUP,
     "returned from pmsuspended due to wakeup event"},
    {VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN,
     "normal shutdown"},
    {VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_DESTROYED,
     "forced poweroff"},
    {VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_CRASHED,
     "domain crashed"},
    {VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_MIGRATED,
     "migrated to another host"},
    {VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_SAVED,
     "saved to a file"},
    /* worded as the state reason VIR_DOMAIN_SHUTOFF_FAILED (bundled plugin) */
    {VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_FAILED,
     "domain failed to start"},
    {VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_FROM_SNAPSHOT,
     "restored from a snapshot which was taken while domain was shutoff"},
    {VIR_DOMAIN_EVENT_CRASHED, VIR_DOMAIN_EVENT_CRASHED_PANICKED,
     "the guest panicked"},
    {VIR_DOMAIN_EVENT_CRASHED, VIR_DOMAIN_EVENT_CRASHED_CRASHLOADED,
     "the guest crashed and loaded a crash kernel"},
    {VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_PAUSED,
     "paused on user request"},
    {VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_IOERROR,
     "paused due to a disk I/O error"},
    {VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_UNPAUSED,
     "returned from paused state"},
    {VIR_DOMAIN_EVENT_SHUTDOWN, VIR_DOMAIN_EVENT_SHUTDOWN_FINISHED,
     "shutting down on user request"},
    {VIR_DOMAIN_EVENT_SHUTDOWN, VIR_DOMAIN_EVENT_SHUTDOWN_GUEST,
     "shutting down on user request"},
    {VIR_DOMAIN_EVENT_SHUTDOWN, VIR_DOMAIN_EVENT_SHUTDOWN_HOST,
     "shutting down on user request"},
    {VIR_DOMAIN_EVENT_PMSUSPENDED, VIR_DOMAIN_EVENT_PMSUSPENDED_MEMORY,
     "suspended to memory"},
    /* details and events a later libvirt may add */
    {VIR_DOMAIN_EVENT_STARTED, 99, "the reason is unknown"},
    {VIR_DOMAIN_EVENT_STOPPED, 99, "the reason is unknown"},
    {VIR_DOMAIN_EVENT_STOPPED, -1, "the reason is unknown"},
    {VIR_DOMAIN_EVENT_CRASHED, 99, "the reason is unknown"},
    {99, 0, "the reason is unknown"},
    {-1, -1, "the reason is unknown"},
};

static void test_reasons(void **state) {
  (void)state;
  for (size_t i = 0; i < VS_NELEM(reason_cases); i++) {
    const char *got =
        vs_event_reason(reason_cases[i].event, reason_cases[i].detail);
    if (!got || strcmp(got, reason_cases[i].reason) != 0)
      fail_msg("event %d detail %d: \"%s\", want \"%s\"", reason_cases[i].event,
               reason_cases[i].detail, got ? got : "(null)",
               reason_cases[i].reason);
  }
}

static void test_what(void **state) {
  (void)state;
  assert_string_equal(vs_event_what(VIR_DOMAIN_EVENT_STARTED), "started");
  assert_string_equal(vs_event_what(VIR_DOMAIN_EVENT_STOPPED), "stopped");
  assert_string_equal(vs_event_what(VIR_DOMAIN_EVENT_CRASHED), "crashed");
  assert_string_equal(vs_event_what(VIR_DOMAIN_EVENT_SHUTDOWN), "shut down");
  assert_string_equal(vs_event_what(VIR_DOMAIN_EVENT_SUSPENDED), "suspended");
  assert_string_equal(vs_event_what(VIR_DOMAIN_EVENT_RESUMED), "resumed");
  assert_string_equal(vs_event_what(99), "changed");
  assert_string_equal(vs_event_what(-1), "changed");
}

/* The start helper's text for a VM that stops while starting
 * (startup-helper/vs_start_batch.c). */
static const struct {
  int event, detail;
  const char *text;
} helper_cases[] = {
    {VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN,
     "domain stopped while starting: normal shutdown"},
    {VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_DESTROYED,
     "domain stopped while starting: forced poweroff"},
    {VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_CRASHED,
     "domain stopped while starting: domain crashed"},
    {VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_FAILED,
     "domain stopped while starting: domain failed to start"},
    {VIR_DOMAIN_EVENT_STOPPED, 99,
     "domain stopped while starting: the reason is unknown"},
    {VIR_DOMAIN_EVENT_CRASHED, VIR_DOMAIN_EVENT_CRASHED_PANICKED,
     "domain crashed while starting: the guest panicked"},
    {VIR_DOMAIN_EVENT_CRASHED, 99,
     "domain crashed while starting: the reason is unknown"},
};

static void test_helper_wording(void **state) {
  (void)state;
  for (size_t i = 0; i < VS_NELEM(helper_cases); i++) {
    char got[128];
    vs_event_describe(got, sizeof(got), helper_cases[i].event,
                      helper_cases[i].detail, "while starting");
    assert_string_equal(got, helper_cases[i].text);
  }
  char got[128];
  assert_string_equal(vs_event_describe(got, sizeof(got),
                                        VIR_DOMAIN_EVENT_STOPPED,
                                        VIR_DOMAIN_EVENT_STOPPED_FAILED, NULL),
                      "domain stopped: domain failed to start");
  /* the longest text fits in 128 bytes (the helper keeps it in as many) */
  vs_event_describe(got, sizeof(got), VIR_DOMAIN_EVENT_STOPPED,
                    VIR_DOMAIN_EVENT_STOPPED_FROM_SNAPSHOT, "while starting");
  assert_string_equal(got, "domain stopped while starting: restored from a "
                           "snapshot which was taken while domain was "
                           "shutoff");
  /* cut to the buffer */
  char small[8];
  vs_event_describe(small, sizeof(small), VIR_DOMAIN_EVENT_STOPPED, 0, "");
  assert_string_equal(small, "domain ");
}

/* --- the plugin's notifications ----------------------------------------- */

static vs_note_t last;
static char last_message[sizeof(last.message)];
static int notes;

static void on_note(void *ud, const vs_note_t *n) {
  (void)ud;
  last = *n;
  memcpy(last_message, n->message, sizeof(last_message));
  notes++;
}

static const struct {
  int event, detail;
  vs_severity_t sev;
  const char *message; /* NULL: no notification */
} note_cases[] = {
    {VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_BOOTED, VS_NOTE_OKAY,
     "Domain state: the domain is running. Reason: normal startup from boot"},
    {VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_UNPAUSED, VS_NOTE_OKAY,
     "Domain state: the domain is running. Reason: returned from paused "
     "state"},
    {VIR_DOMAIN_EVENT_SHUTDOWN, VIR_DOMAIN_EVENT_SHUTDOWN_FINISHED,
     VS_NOTE_OKAY,
     "Domain state: the domain is being shut down. Reason: shutting down on "
     "user request"},
    {VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_DESTROYED, VS_NOTE_OKAY,
     "Domain state: the domain is shut off. Reason: forced poweroff"},
    {VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN, VS_NOTE_OKAY,
     "Domain state: the domain is shut off. Reason: normal shutdown"},
    {VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_FAILED, VS_NOTE_FAILURE,
     "Domain state: the domain is shut off. Reason: domain failed to start"},
    {VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_CRASHED,
     VS_NOTE_FAILURE,
     "Domain state: the domain is shut off. Reason: domain crashed"},
    {VIR_DOMAIN_EVENT_STOPPED, 99, VS_NOTE_OKAY,
     "Domain state: the domain is shut off. Reason: the reason is unknown"},
    {VIR_DOMAIN_EVENT_CRASHED, VIR_DOMAIN_EVENT_CRASHED_PANICKED,
     VS_NOTE_FAILURE,
     "Domain state: the domain is crashed. Reason: the guest panicked"},
    {VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_IOERROR,
     VS_NOTE_FAILURE,
     "Domain state: the domain is paused by user. Reason: paused due to a "
     "disk I/O error"},
    {VIR_DOMAIN_EVENT_DEFINED, VIR_DOMAIN_EVENT_DEFINED_ADDED, VS_NOTE_OKAY,
     NULL},
    {VIR_DOMAIN_EVENT_UNDEFINED, VIR_DOMAIN_EVENT_UNDEFINED_REMOVED,
     VS_NOTE_OKAY, NULL},
};

static void test_notifications(void **state) {
  (void)state;
  vs_config_t cfg;
  vs_config_init(&cfg);
  vs_sink_t sink = {.notify = on_note};
  vs_event_domain_t d = {.name = "vm1",
                         .uuid = "3f8c1a2e-5b7d-4c9e-8a1f-0b2c3d4e5f60"};
  for (size_t i = 0; i < VS_NELEM(note_cases); i++) {
    notes = 0;
    last_message[0] = '\0';
    vs_lifecycle_note(&cfg, "hv", &sink, &d, note_cases[i].event,
                      note_cases[i].detail);
    if (!note_cases[i].message) {
      assert_int_equal(notes, 0);
      continue;
    }
    assert_int_equal(notes, 1);
    assert_int_equal(last.severity, note_cases[i].sev);
    assert_string_equal(last.type, "domain_state");
    assert_string_equal(last_message, note_cases[i].message);
  }
  vs_config_clear(&cfg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reasons),
      cmocka_unit_test(test_what),
      cmocka_unit_test(test_helper_wording),
      cmocka_unit_test(test_notifications),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
