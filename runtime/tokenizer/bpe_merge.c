/* bpe_merge.c - the merge loop of byte-pair encoding: repeatedly join the
 * adjacent pair of lowest rank, the leftmost of equals, until no pair
 * merges. llama2.c rescans every pair per merge (quadratic); a binary heap
 * of candidate pairs over a linked list of symbols gives the same order in
 * O(n log n): a candidate is stale, and skipped, once either of its symbols
 * has changed. Hugging Face's BPE word merge is this loop too. */
#include "tokenizer_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct candidate {
  double rank;
  int64_t left, right;
  int32_t left_id, right_id, merged;
} candidate;

static int before(const candidate *a, const candidate *b) {
  return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

typedef struct heap {
  candidate *v;
  int64_t n, cap;
} heap;

static int heap_push(heap *h, candidate c) {
  if (h->n == h->cap) {
    int64_t cap = h->cap ? h->cap * 2 : 64;
    candidate *v = (candidate *)realloc(h->v, sizeof(candidate) * (size_t)cap);
    if (!v)
      return -1;
    h->v = v;
    h->cap = cap;
  }
  int64_t i = h->n++;
  while (i > 0 && before(&c, &h->v[(i - 1) / 2])) {
    h->v[i] = h->v[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  h->v[i] = c;
  return 0;
}

static candidate heap_pop(heap *h) {
  candidate top = h->v[0], last = h->v[--h->n];
  int64_t i = 0;
  for (;;) {
    int64_t child = 2 * i + 1;
    if (child >= h->n)
      break;
    if (child + 1 < h->n && before(&h->v[child + 1], &h->v[child]))
      child++;
    if (!before(&h->v[child], &last))
      break;
    h->v[i] = h->v[child];
    i = child;
  }
  if (h->n > 0)
    h->v[i] = last;
  return top;
}

int qrt_bpe_merge(const void *ctx, qrt_ids *ids, int64_t from, qrt_pair_fn pair) {
  int64_t n = ids->n - from;
  if (n < 2)
    return 0;
  int32_t *tok = ids->v + from;
  int64_t *next = (int64_t *)malloc(sizeof(int64_t) * (size_t)n);
  int64_t *prev = (int64_t *)malloc(sizeof(int64_t) * (size_t)n);
  heap h = {0};
  int rc = -1;
  if (!next || !prev)
    goto done;
  for (int64_t i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
#define CONSIDER(L)                                                                       \
  do {                                                                                    \
    int64_t l_ = (L);                                                                     \
    if (l_ >= 0 && next[l_] >= 0) {                                                       \
      candidate c_ = {0, l_, next[l_], tok[l_], tok[next[l_]], -1};                        \
      c_.merged = pair(ctx, c_.left_id, c_.right_id, &c_.rank);                             \
      if (c_.merged >= 0 && heap_push(&h, c_) != 0)                                       \
        goto done;                                                                        \
    }                                                                                     \
  } while (0)
  for (int64_t i = 0; i + 1 < n; ++i)
    CONSIDER(i);
  while (h.n > 0) {
    candidate c = heap_pop(&h);
    /* tok[] is -1 for a symbol merged into its left neighbour (no symbol is -1) */
    if (next[c.left] != c.right || tok[c.left] != c.left_id || tok[c.right] != c.right_id)
      continue;
    tok[c.left] = c.merged;
    tok[c.right] = -1;
    next[c.left] = next[c.right];
    if (next[c.right] >= 0)
      prev[next[c.right]] = c.left;
    CONSIDER(prev[c.left]);
    CONSIDER(c.left);
  }
#undef CONSIDER
  int64_t kept = 0;
  for (int64_t i = 0; i >= 0; i = next[i])
    tok[kept++] = tok[i];
  ids->n = from + kept;
  rc = 0;
done:
  free(next);
  free(prev);
  free(h.v);
  return rc;
}
