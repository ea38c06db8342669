#include "vs_sample.h"

#include <stdlib.h>
#include <string.h>

bool vs_domain_label_same_id(const vs_domain_label_t *a,
                             const vs_domain_label_t *b) {
  return strcmp(a->host, b->host) == 0 &&
         strcmp(a->plugin_instance, b->plugin_instance) == 0;
}

vs_domain_label_t *vs_domain_label_ref(vs_domain_label_t *l) {
  atomic_fetch_add(&l->refs, 1);
  return l;
}

void vs_domain_label_unref(vs_domain_label_t *l) {
  if (!l || atomic_fetch_sub(&l->refs, 1) != 1)
    return;
  free(l->name);
  free(l);
}

void vs_sample_clear(vs_sample_t *s) {
  if (!s)
    return;
  for (size_t i = 0; i < s->nresults; i++) {
    vs_domain_stats_clear(&s->results[i].st);
    vs_domain_label_unref(s->results[i].label);
  }
  free(s->results);
  for (size_t i = 0; i < s->nstatus; i++)
    vs_domain_label_unref(s->status[i].label);
  free(s->status);
  for (size_t i = 0; i < s->ngone; i++)
    free(s->gone[i]);
  free(s->gone);
  for (size_t i = 0; i < s->nproblems; i++) {
    free(s->problems[i].domain);
    free(s->problems[i].message);
  }
  free(s->problems);
  memset(s, 0, sizeof(*s));
}

vs_domain_result_t *vs_sample_add_result(vs_sample_t *s,
                                         vs_domain_label_t *label,
                                         vs_domain_stats_t *st) {
  if (s->nresults == s->capresults) {
    size_t cap = s->capresults ? 2 * s->capresults : 32;
    vs_domain_result_t *p = realloc(s->results, cap * sizeof(*p));
    if (!p) {
      vs_domain_stats_clear(st);
      return NULL;
    }
    s->results = p;
    s->capresults = cap;
  }
  vs_domain_result_t *r = &s->results[s->nresults++];
  memset(r, 0, sizeof(*r));
  r->label = vs_domain_label_ref(label);
  r->st = *st; /* moved */
  memset(st, 0, sizeof(*st));
  return r;
}

void vs_sample_add_problem(vs_sample_t *s, const char *domain, const char *msg,
                           bool first) {
  vs_problem_t *p = realloc(s->problems, (s->nproblems + 1) * sizeof(*p));
  if (!p)
    return;
  s->problems = p;
  p[s->nproblems].domain = strdup(domain);
  p[s->nproblems].message = strdup(msg);
  p[s->nproblems].first = first;
  if (!p[s->nproblems].domain || !p[s->nproblems].message) {
    free(p[s->nproblems].domain);
    free(p[s->nproblems].message);
    return;
  }
  s->nproblems++;
}

void vs_sample_add_gone(vs_sample_t *s, const char *name) {
  char **p = realloc(s->gone, (s->ngone + 1) * sizeof(*p));
  if (!p)
    return;
  s->gone = p;
  if ((p[s->ngone] = strdup(name)))
    s->ngone++;
}
