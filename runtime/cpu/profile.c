/* profile.c - QRT_PROFILE=1: where a program's forward calls spend their
 * time, printed to stderr when the model is freed.
 *
 * Per kind of call (decode: one token; prefill: several), the mean and the
 * slowest call's wall time, the calls' time split into the linear passes, attention, and the rest (norms,
 * rope, embedding, quantizing activations, the classifier's caller), and
 * within the linear passes the share the calling thread spent in its own
 * rows: the remainder is that thread waiting for the others to finish
 * theirs. Off (one branch per pass) unless asked for. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

qrt_profile *qrt_profile_create(void) {
  const char *env = getenv("QRT_PROFILE");
  if (!env || !strcmp(env, "0"))
    return NULL;
  return (qrt_profile *)calloc(1, sizeof(qrt_profile));
}

static void print_kind(const char *kind, const qrt_profile_kind *k) {
  if (k->calls == 0 || k->total_s <= 0)
    return;
  double rest = k->total_s - k->linear_s - k->attention_s;
  fprintf(stderr,
          "qrt profile: %s: %lld calls, %.3f ms each (slowest %.3f): linear passes %.1f%% (the "
          "calling thread in its own rows %.1f%% of them), attention %.1f%%, the rest %.1f%%\n",
          kind, (long long)k->calls, 1e3 * k->total_s / (double)k->calls, 1e3 * k->slowest_s,
          100.0 * k->linear_s / k->total_s,
          k->linear_s > 0 ? 100.0 * k->linear_own_s / k->linear_s : 0.0,
          100.0 * k->attention_s / k->total_s, 100.0 * rest / k->total_s);
}

void qrt_profile_report(qrt_profile *p) {
  if (!p)
    return;
  print_kind("decode", &p->kind[0]);
  print_kind("prefill", &p->kind[1]);
  free(p);
}
