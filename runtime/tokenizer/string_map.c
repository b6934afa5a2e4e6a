/* string_map.c - open-addressing hash maps for the tokenizer: a piece's id
 * (the vocabulary has up to a few hundred thousand pieces; llama2.c's bsearch
 * over sorted pieces cost a strcmp per probe) and a pair's merge. */
#include "tokenizer_internal.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hash_bytes(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (size_t i = 0; i < n; ++i)
    h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  return h;
}

static uint64_t capacity_for(int64_t expected) {
  uint64_t cap = 16;
  while (cap < (uint64_t)expected * 2)
    cap <<= 1;
  return cap;
}

int qrt_string_map_init(qrt_string_map *m, int64_t expected) {
  uint64_t cap = capacity_for(expected);
  m->mask = cap - 1;
  m->keys = (const char **)calloc(cap, sizeof(char *));
  m->key_len = (uint32_t *)calloc(cap, sizeof(uint32_t));
  m->values = (int32_t *)calloc(cap, sizeof(int32_t));
  return m->keys && m->key_len && m->values ? 0 : -1;
}

int qrt_string_map_insert(qrt_string_map *m, const char *key, uint32_t len, int32_t value) {
  for (uint64_t i = hash_bytes(key, len) & m->mask;; i = (i + 1) & m->mask) {
    if (!m->keys[i]) {
      m->keys[i] = key;
      m->key_len[i] = len;
      m->values[i] = value;
      return 0;
    }
    if (m->key_len[i] == len && memcmp(m->keys[i], key, len) == 0)
      return 0; /* the first id keeps the piece */
  }
}

int32_t qrt_string_map_find(const qrt_string_map *m, const char *key, size_t len) {
  for (uint64_t i = hash_bytes(key, len) & m->mask;; i = (i + 1) & m->mask) {
    if (!m->keys[i])
      return -1;
    if (m->key_len[i] == len && memcmp(m->keys[i], key, len) == 0)
      return m->values[i];
  }
}

void qrt_string_map_free(qrt_string_map *m) {
  free(m->keys);
  free(m->key_len);
  free(m->values);
  memset(m, 0, sizeof(*m));
}

static uint64_t pair_key(int32_t left, int32_t right) {
  return (((uint64_t)(uint32_t)left << 32) | (uint32_t)right) + 1;
}

static uint64_t mix(uint64_t x) { /* splitmix64's finalizer */
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

int qrt_pair_map_init(qrt_pair_map *m, int64_t expected) {
  uint64_t cap = capacity_for(expected);
  m->mask = cap - 1;
  m->keys = (uint64_t *)calloc(cap, sizeof(uint64_t));
  m->rank = (int32_t *)calloc(cap, sizeof(int32_t));
  m->merged = (int32_t *)calloc(cap, sizeof(int32_t));
  return m->keys && m->rank && m->merged ? 0 : -1;
}

int qrt_pair_map_insert(qrt_pair_map *m, int32_t left, int32_t right, int32_t rank,
                        int32_t merged) {
  uint64_t key = pair_key(left, right);
  for (uint64_t i = mix(key) & m->mask;; i = (i + 1) & m->mask) {
    if (m->keys[i] == 0) {
      m->keys[i] = key;
      m->rank[i] = rank;
      m->merged[i] = merged;
      return 0;
    }
    if (m->keys[i] == key)
      return 0; /* a repeated merge keeps its first (best) rank */
  }
}

int32_t qrt_pair_map_find(const qrt_pair_map *m, int32_t left, int32_t right, int32_t *rank) {
  uint64_t key = pair_key(left, right);
  for (uint64_t i = mix(key) & m->mask;; i = (i + 1) & m->mask) {
    if (m->keys[i] == 0)
      return -1;
    if (m->keys[i] == key) {
      *rank = m->rank[i];
      return m->merged[i];
    }
  }
}

void qrt_pair_map_free(qrt_pair_map *m) {
  free(m->keys);
  free(m->rank);
  free(m->merged);
  memset(m, 0, sizeof(*m));
}
