/* vs_filter (select-lists of names) and vs_domxml_devices() (device lists
 * from a domain's XML, captured from a running QEMU VM and hand-made
 * variants). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vs_domxml.h"
#include "vs_filter.h"
#include "vs_test_fixtures.h"

/* --- vs_filter --------------------------------------------------------------
 */

#define MAX_PATTERNS 3
#define MAX_NAMES 3

static const struct {
  const char *patterns[MAX_PATTERNS]; /* NULL-terminated */
  bool invert;
  const char *names[MAX_NAMES]; /* candidates; NULL entries are skipped */
  size_t n_names;
  bool want;
} select_cases[] = {
    /* an empty list selects everything, inverted or not */
    {{NULL}, false, {"vda"}, 1, true},
    {{NULL}, true, {"vda"}, 1, true},
    {{NULL}, false, {NULL}, 0, true},
    /* exact names: whole-string, case-sensitive */
    {{"vda"}, false, {"vda"}, 1, true},
    {{"vda"}, false, {"vdb"}, 1, false},
    {{"vda"}, false, {"vd"}, 1, false},
    {{"vda"}, false, {"vdaa"}, 1, false},
    {{"vda"}, false, {"VDA"}, 1, false},
    {{"vda", "vdb"}, false, {"vdb"}, 1, true},
    /* regexes: POSIX ERE, unanchored unless anchored */
    {{"/^vd/"}, false, {"vda"}, 1, true},
    {{"/^vd/"}, false, {"sda"}, 1, false},
    {{"/da/"}, false, {"vda"}, 1, true},
    {{"/^(vda|sdb)$/"}, false, {"sdb"}, 1, true},
    {{"/^(vda|sdb)$/"}, false, {"sdbx"}, 1, false},
    {{"/[0-9]+$/"}, false, {"vnet12"}, 1, true},
    /* "/" alone and "/x" are exact names, not regexes */
    {{"/"}, false, {"/"}, 1, true},
    {{"/x"}, false, {"/x"}, 1, true},
    {{"/x"}, false, {"x"}, 1, false},
    /* invert */
    {{"vda"}, true, {"vda"}, 1, false},
    {{"vda"}, true, {"vdb"}, 1, true},
    {{"/^vd/"}, true, {"sda"}, 1, true},
    /* several candidates: any may match */
    {{"dom:vda"}, false, {"vda", "dom:vda"}, 2, true},
    {{"dom:vda"}, false, {"vda", "other:vda"}, 2, false},
    {{"dom:vda"}, true, {"vda", "dom:vda"}, 2, false},
    {{"vda"}, false, {NULL, "vda"}, 2, true},
    {{"vda"}, false, {NULL, NULL}, 2, false},
    {{"vda"}, false, {"vda"}, 0, false}, /* n_names respected */
    {{"/^[^:]*:vd/"}, false, {"sda", "dom:vda"}, 2, true},
};

static void build_filter(vs_filter_t *f, const char *const *patterns,
                         bool invert) {
  for (size_t j = 0; j < MAX_PATTERNS && patterns[j]; j++) {
    vs_error_t err = {0};
    if (vs_filter_add(f, patterns[j], &err) != 0)
      fail_msg("vs_filter_add(\"%s\"): %s", patterns[j], err.msg);
  }
  f->invert = invert;
}

static void test_filter_selects(void **state) {
  for (size_t i = 0; i < VS_NELEM(select_cases); i++) {
    vs_filter_t f = {0};
    build_filter(&f, select_cases[i].patterns, select_cases[i].invert);
    bool got =
        vs_filter_selects(&f, select_cases[i].names, select_cases[i].n_names);
    vs_filter_clear(&f);
    if (got != select_cases[i].want)
      fail_msg("case %zu (\"%s\"%s): %d, expected %d", i,
               select_cases[i].patterns[0] ? select_cases[i].patterns[0] : "",
               select_cases[i].invert ? ", inverted" : "", got,
               select_cases[i].want);
  }
}

static void test_filter_entries(void **state) {
  vs_filter_t f = {0};
  static const char *const patterns[] = {"vda", "/^sd[a-z]$/", NULL};
  build_filter(&f, patterns, false);
  assert_int_equal(f.n, 2);
  assert_string_equal(f.entries[0].text, "vda");
  assert_false(f.entries[0].is_regex);
  assert_string_equal(f.entries[1].text, "^sd[a-z]$"); /* without slashes */
  assert_true(f.entries[1].is_regex);
  vs_filter_clear(&f);
  assert_int_equal(f.n, 0);
  assert_null(f.entries);
  assert_false(f.invert);
  vs_filter_clear(&f); /* twice */
  vs_filter_clear(NULL);
}

/* Bad patterns: -EINVAL, a message naming the pattern, the list unchanged. */
static const struct {
  const char *pattern;
  const char *want; /* in the message */
} bad_patterns[] = {
    {"", "empty"},
    {"/[/", "/[/"},
    {"/(/", "/(/"},
    {"/a{2,1}/", "/a{2,1}/"},
    {"/[[:nope:]]/", "/[[:nope:]]/"},
};

static void test_filter_bad_patterns(void **state) {
  for (size_t i = 0; i < VS_NELEM(bad_patterns); i++) {
    vs_filter_t f = {0};
    static const char *const keep[] = {"keep", NULL};
    build_filter(&f, keep, false);
    vs_error_t err = {0};
    int rc = vs_filter_add(&f, bad_patterns[i].pattern, &err);
    if (rc != -EINVAL || err.code != -EINVAL ||
        !strstr(err.msg, bad_patterns[i].want))
      fail_msg("\"%s\": rc %d, message \"%s\"", bad_patterns[i].pattern, rc,
               err.msg);
    assert_int_equal(f.n, 1);
    assert_string_equal(f.entries[0].text, "keep");
    vs_filter_clear(&f);
  }
}

/* --- vs_domxml_devices: the captured domain ----------------------------------
 */

static void parse_ok(const char *xml, vs_domxml_devices_t *d) {
  vs_error_t err = {0};
  int rc = vs_domxml_devices(xml, d, &err);
  if (rc != 0)
    fail_msg("vs_domxml_devices: %d: %s", rc, err.msg);
}

static void test_domxml_running_vm(void **state) {
  char *xml = vs_fx_read("domain_running.xml");
  vs_domxml_devices_t d = {0};
  parse_ok(xml, &d);
  free(xml);
  static const struct {
    const char *target, *source;
  } disks[] = {
      {"vda", "/var/lib/libvirt/images/fx-xml-vda.qcow2"},
      {"vdb", "/var/lib/libvirt/images/fx-xml-vdb.qcow2"},
      {"sda", NULL}, /* the empty CD-ROM */
  };
  assert_int_equal(d.ndisks, VS_NELEM(disks));
  for (size_t i = 0; i < VS_NELEM(disks); i++) {
    assert_string_equal(d.disk_targets[i], disks[i].target);
    if (disks[i].source)
      assert_string_equal(d.disk_sources[i], disks[i].source);
    else
      assert_null(d.disk_sources[i]);
  }
  assert_int_equal(d.nnics, 2);
  assert_string_equal(d.nic_targets[0], "vt609b7bn0");
  assert_string_equal(d.nic_targets[1], "vt609b7bn1");
  vs_domxml_devices_clear(&d);
  assert_int_equal(d.ndisks, 0);
  assert_null(d.disk_targets);
  vs_domxml_devices_clear(&d);
  vs_domxml_devices_clear(NULL);
}

/* --- vs_domxml_devices: hand-made documents ----------------------------------
 */

#define DOM(devices)                                                           \
  "<domain type='kvm'><name>d</name><devices>" devices "</devices></domain>"

typedef struct {
  const char *what;
  const char *xml;
  const char *disks[4]; /* "target=source" or "target" (no source) */
  const char *nics[3];
} devices_case_t;

static const devices_case_t device_cases[] = {
    {"no devices element",
     "<domain type='kvm'><name>d</name></domain>",
     {NULL},
     {NULL}},
    {"empty devices", DOM(""), {NULL}, {NULL}},
    {"disk without target skipped",
     DOM("<disk type='file'><source file='/a'/></disk>"
         "<disk type='file'><source file='/b'/><target dev='vdb'/></disk>"),
     {"vdb=/b"},
     {NULL}},
    {"target without dev skipped",
     DOM("<disk type='file'><source file='/a'/><target bus='virtio'/></disk>"
         "<interface type='network'><target/></interface>"),
     {NULL},
     {NULL}},
    {"interface without target skipped (not running)",
     DOM("<interface type='network'><mac address='52:54:00:00:00:01'/>"
         "</interface>"
         "<interface type='ethernet'><target dev='tap1'/></interface>"),
     {NULL},
     {"tap1"}},
    {"cdrom without source",
     DOM("<disk type='file' device='cdrom'><target dev='hdc'/></disk>"),
     {"hdc"},
     {NULL}},
    {"cdrom with empty source",
     DOM("<disk type='file' device='cdrom'><source/><target dev='hdc'/>"
         "</disk>"),
     {"hdc"},
     {NULL}},
    {"block device source",
     DOM("<disk type='block'><source dev='/dev/sdb'/><target dev='sdb'/>"
         "</disk>"),
     {"sdb=/dev/sdb"},
     {NULL}},
    {"network disk: no file or dev",
     DOM("<disk type='network'><source protocol='rbd' name='pool/img'/>"
         "<target dev='vdc'/></disk>"),
     {"vdc"},
     {NULL}},
    {"document order kept, other devices ignored",
     DOM("<interface type='ethernet'><target dev='t0'/></interface>"
         "<controller type='usb'/>"
         "<disk type='file'><source file='/x'/><target dev='vdz'/></disk>"
         "<interface type='ethernet'><target dev='t1'/></interface>"
         "<disk type='file'><source file='/y'/><target dev='vda'/></disk>"
         "<memballoon model='virtio'/>"),
     {"vdz=/x", "vda=/y"},
     {"t0", "t1"}},
    {"disks outside <devices> ignored",
     "<domain><disk><target dev='vdx'/></disk><devices>"
     "<disk><target dev='vda'/></disk></devices></domain>",
     {"vda"},
     {NULL}},
    {"entities and UTF-8 decoded",
     DOM("<disk type='file'><source file='/img/a&amp;b \xc3\xbc.img'/>"
         "<target dev='vda'/></disk>"),
     {"vda=/img/a&b \xc3\xbc.img"},
     {NULL}},
};

static void test_domxml_cases(void **state) {
  for (size_t i = 0; i < VS_NELEM(device_cases); i++) {
    const devices_case_t *c = &device_cases[i];
    print_message("%s\n", c->what);
    vs_domxml_devices_t d = {0};
    parse_ok(c->xml, &d);
    size_t ndisks = 0, nnics = 0;
    while (ndisks < VS_NELEM(c->disks) && c->disks[ndisks])
      ndisks++;
    while (nnics < VS_NELEM(c->nics) && c->nics[nnics])
      nnics++;
    assert_int_equal(d.ndisks, ndisks);
    assert_int_equal(d.nnics, nnics);
    for (size_t j = 0; j < ndisks; j++) {
      const char *eq = strchr(c->disks[j], '=');
      size_t tlen = eq ? (size_t)(eq - c->disks[j]) : strlen(c->disks[j]);
      assert_int_equal(strlen(d.disk_targets[j]), tlen);
      assert_memory_equal(d.disk_targets[j], c->disks[j], tlen);
      if (eq)
        assert_string_equal(d.disk_sources[j], eq + 1);
      else
        assert_null(d.disk_sources[j]);
    }
    for (size_t j = 0; j < nnics; j++)
      assert_string_equal(d.nic_targets[j], c->nics[j]);
    vs_domxml_devices_clear(&d);
  }
}

/* Not a domain document: -EINVAL with a message, nothing returned. */
static const char *const bad_xml[] = {
    "",
    "not xml",
    "<domain><devices>", /* unterminated */
    "<domain></domian>",
    "<network><name>default</name></network>", /* wrong root */
    "<domainx><devices/></domainx>",
    "<?xml version='1.0'?>",
    "<!-- only a comment -->",
};

static void test_domxml_malformed(void **state) {
  for (size_t i = 0; i < VS_NELEM(bad_xml); i++) {
    vs_domxml_devices_t d = {0}, zero = {0};
    vs_error_t err = {0};
    int rc = vs_domxml_devices(bad_xml[i], &d, &err);
    if (rc != -EINVAL || err.code != -EINVAL || err.msg[0] == '\0')
      fail_msg("\"%s\": rc %d, message \"%s\"", bad_xml[i], rc, err.msg);
    assert_memory_equal(&d, &zero, sizeof(d));
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_filter_selects),
      cmocka_unit_test(test_filter_entries),
      cmocka_unit_test(test_filter_bad_patterns),
      cmocka_unit_test(test_domxml_running_vm),
      cmocka_unit_test(test_domxml_cases),
      cmocka_unit_test(test_domxml_malformed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
