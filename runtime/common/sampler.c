/* sampler.c - greedy and top-p sampling, as qopt run does. */
#include "qrt_common.h"

#include <math.h>
#include <stdlib.h>

static float next_random(uint64_t *state) {
  /* xorshift64*, top 24 bits as a float in [0, 1) */
  *state ^= *state >> 12;
  *state ^= *state << 25;
  *state ^= *state >> 27;
  return (float)((*state * 0x2545F4914F6CDD1Dull) >> 40) / 16777216.0f;
}

typedef struct prob_index {
  float prob;
  int32_t index;
} prob_index;

static int by_prob_desc(const void *a, const void *b) {
  float pa = ((const prob_index *)a)->prob, pb = ((const prob_index *)b)->prob;
  if (pa != pb)
    return pa < pb ? 1 : -1;
  return ((const prob_index *)a)->index - ((const prob_index *)b)->index;
}

int32_t qrt_sample(const float *logits, int64_t vocab, float temperature, float top_p,
                   uint64_t *rng) {
  if (temperature <= 0.0f) {
    int32_t best = 0;
    for (int64_t i = 1; i < vocab; ++i)
      if (logits[i] > logits[best])
        best = (int32_t)i;
    return best;
  }
  prob_index *p = (prob_index *)malloc(sizeof(prob_index) * (size_t)vocab);
  float maxv = logits[0];
  for (int64_t i = 1; i < vocab; ++i)
    if (logits[i] > maxv)
      maxv = logits[i];
  double sum = 0;
  for (int64_t i = 0; i < vocab; ++i) {
    p[i].prob = expf((logits[i] - maxv) / temperature);
    p[i].index = (int32_t)i;
    sum += p[i].prob;
  }
  for (int64_t i = 0; i < vocab; ++i)
    p[i].prob = (float)(p[i].prob / sum);
  qsort(p, (size_t)vocab, sizeof(prob_index), by_prob_desc);
  int64_t last = vocab - 1;
  double cumulative = 0;
  if (top_p > 0.0f && top_p < 1.0f)
    for (int64_t i = 0; i < vocab; ++i) {
      cumulative += p[i].prob;
      if (cumulative > top_p) {
        last = i;
        break;
      }
    }
  double mass = 0;
  for (int64_t i = 0; i <= last; ++i)
    mass += p[i].prob;
  double r = next_random(rng) * mass, acc = 0;
  int32_t chosen = p[last].index;
  for (int64_t i = 0; i <= last; ++i) {
    acc += p[i].prob;
    if (r < acc) {
      chosen = p[i].index;
      break;
    }
  }
  free(p);
  return chosen;
}
