/* hf_encode.c - Hugging Face tokenizer.json semantics for a BPE model, as
 * the tokenizers library runs them:
 *   1. added tokens that are not `normalized` are split out of the raw text
 *      (leftmost-longest; lstrip / rstrip take the whitespace beside them);
 *   2. every other run is normalized (Prepend, Replace), and the normalized
 *      added tokens are split out of it;
 *   3. the pre-tokenizer cuts each run into words (Split by a regex on
 *      PCRE2, ByteLevel, Metaspace);
 *   4. each word becomes characters (byte fallback or <unk> for unknown
 *      ones) merged by rank (bpe_merge.c).
 * Decoding is a per-token table built here: what each token prints. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "qrt_common.h"
#include "tokenizer_internal.h"

#include <pcre2.h>
#include <utf8proc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- text pieces ---- */
typedef struct piece {
  char *s;
  size_t n;
  int first; /* starts at offset 0 of the encoded text (Metaspace "first") */
} piece;
typedef struct pieces {
  piece *v;
  size_t n, cap;
} pieces;

static int pieces_push(pieces *p, const char *s, size_t n, int first) {
  if (p->n == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 16;
    piece *v = (piece *)realloc(p->v, cap * sizeof(piece));
    if (!v)
      return -1;
    p->v = v;
    p->cap = cap;
  }
  char *copy = (char *)malloc(n + 1);
  if (!copy)
    return -1;
  memcpy(copy, s, n);
  copy[n] = '\0';
  p->v[p->n++] = (piece){copy, n, first};
  return 0;
}

static void pieces_free(pieces *p) {
  for (size_t i = 0; i < p->n; ++i)
    free(p->v[i].s);
  free(p->v);
  memset(p, 0, sizeof(*p));
}

/* ---- a growing byte string ---- */
typedef struct buf {
  char *s;
  size_t n, cap;
} buf;

static int buf_add(buf *b, const char *s, size_t n) {
  if (b->n + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->n + n + 1)
      cap *= 2;
    char *v = (char *)realloc(b->s, cap);
    if (!v)
      return -1;
    b->s = v;
    b->cap = cap;
  }
  memcpy(b->s + b->n, s, n);
  b->n += n;
  b->s[b->n] = '\0';
  return 0;
}

static size_t utf8_len(unsigned char c) {
  return c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
}

/* ---- GPT-2's byte <-> unicode map: printable Latin-1 bytes stand for
 * themselves, the other 68 are U+0100 upwards in byte order ---- */
static unsigned byte_to_codepoint(unsigned b) {
  if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF))
    return b;
  unsigned n = 0;
  for (unsigned c = 0; c < b; ++c)
    if (!((c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF)))
      ++n;
  return 256 + n;
}

static size_t put_utf8(char *out, unsigned cp) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  out[0] = (char)(0xC0 | (cp >> 6)); /* every mapped code point is below U+0800 */
  out[1] = (char)(0x80 | (cp & 0x3F));
  return 2;
}

static int byte_level_map(const char *s, size_t n, buf *out) {
  for (size_t i = 0; i < n; ++i) {
    char u[2];
    if (buf_add(out, u, put_utf8(u, byte_to_codepoint((unsigned char)s[i]))) != 0)
      return -1;
  }
  return 0;
}

/* The byte a mapped code point stands for, or -1. */
static int codepoint_to_byte(unsigned cp) {
  static int table[324];
  static int ready;
  if (!ready) { /* idempotent, so a race between threads writes the same values */
    for (unsigned i = 0; i < 324; ++i)
      table[i] = -1;
    for (unsigned b = 0; b < 256; ++b)
      table[byte_to_codepoint(b)] = (int)b;
    ready = 1;
  }
  return cp < 324 ? table[cp] : -1;
}

/* ---- normalizer ---- */

/* Unicode normalization (tokenizer.json's NFC, NFD, NFKC, NFKD) by utf8proc.
 * Text that is not UTF-8 (Hugging Face's Rust strings cannot hold it) is
 * kept as it is. */
static int unicode_normalize(uint32_t form, const char *s, size_t n, buf *out) {
  static const utf8proc_option_t options[] = {
      UTF8PROC_STABLE | UTF8PROC_COMPOSE, UTF8PROC_STABLE | UTF8PROC_DECOMPOSE,
      UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT,
      UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT};
  if (n == 0)
    return 0;
  utf8proc_uint8_t *mapped = NULL;
  utf8proc_ssize_t len =
      utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &mapped, options[form & 3u]);
  if (len < 0) {
    free(mapped);
    return len == UTF8PROC_ERROR_NOMEM ? -1 : buf_add(out, s, n);
  }
  int rc = buf_add(out, (const char *)mapped, (size_t)len);
  free(mapped);
  return rc;
}

static int normalize(const qrt_tokenizer *t, const char *s, size_t n, buf *out) {
  buf cur = {0};
  if (buf_add(&cur, s, n) != 0)
    return -1;
  for (uint32_t k = 0; k < t->n_normalizer; ++k) {
    const qrt_tok_step *st = &t->normalizer[k];
    buf next = {0};
    int rc = 0;
    if (st->op == QTOK_NORM_PREPEND) {
      if (cur.n > 0)
        rc = buf_add(&next, st->a, st->a_len);
      rc = rc ? rc : buf_add(&next, cur.s, cur.n);
    } else if (st->op == QTOK_NORM_UNICODE) {
      rc = unicode_normalize(st->arg, cur.s, cur.n, &next);
    } else { /* QTOK_NORM_REPLACE (the loader refuses other ops) */
      for (size_t i = 0; i < cur.n && rc == 0;) {
        if (st->a_len > 0 && cur.n - i >= st->a_len && memcmp(cur.s + i, st->a, st->a_len) == 0) {
          rc = buf_add(&next, st->b, st->b_len);
          i += st->a_len;
        } else {
          rc = buf_add(&next, cur.s + i, 1);
          i += 1;
        }
      }
    }
    free(cur.s);
    cur = next;
    if (rc != 0 || (!cur.s && buf_add(&cur, "", 0) != 0)) {
      free(cur.s);
      return -1;
    }
  }
  *out = cur;
  return 0;
}

/* ---- added tokens ---- */
static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
static int is_word_byte(unsigned char c) {
  return c >= 0x80 || c == '_' || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/* The leftmost-longest added token of the given kind in s[from, n):
 * index into t->added, its span (whitespace taken by lstrip / rstrip
 * included) in [*start, *end); -1 when none. */
static int64_t find_added(const qrt_tokenizer *t, int normalized, const char *s, size_t from,
                          size_t n, size_t *start, size_t *end) {
  for (size_t pos = from; pos < n; ++pos) {
    if (!t->added_first[normalized][(unsigned char)s[pos]])
      continue; /* no added token starts with this byte */
    int64_t best = -1;
    for (uint32_t k = 0; k < t->n_added; ++k) {
      const qrt_added_token *a = &t->added[k];
      if (((a->flags & QTOK_ADDED_NORMALIZED) != 0) != normalized || a->len > n - pos ||
          (best >= 0 && a->len <= t->added[best].len) || a->content[0] != s[pos] ||
          memcmp(a->content, s + pos, a->len) != 0)
        continue;
      if ((a->flags & QTOK_ADDED_SINGLE_WORD) &&
          ((pos > 0 && is_word_byte((unsigned char)s[pos - 1])) ||
           (pos + a->len < n && is_word_byte((unsigned char)s[pos + a->len]))))
        continue;
      best = k;
    }
    if (best >= 0) {
      const qrt_added_token *a = &t->added[best];
      *start = pos;
      *end = pos + a->len;
      if (a->flags & QTOK_ADDED_LSTRIP)
        while (*start > from && is_space(s[*start - 1]))
          --*start;
      if (a->flags & QTOK_ADDED_RSTRIP)
        while (*end < n && is_space(s[*end]))
          ++*end;
      return best;
    }
  }
  return -1;
}

/* ---- pre-tokenizer ---- */
static int split_by_regex(const pcre2_code *re, int removed, const piece *p, pieces *out) {
  pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
  if (!md)
    return -1;
  size_t at = 0, last = 0;
  int rc = 0;
  /* PCRE2 checks the whole subject's UTF-8 on every call unless told not
   * to (quadratic over a long text): check it on the first call only; every
   * later start offset is a match end or a character boundary */
  uint32_t options = 0;
  while (at <= p->n && rc == 0) {
    int m = pcre2_match(re, (PCRE2_SPTR)p->s, p->n, at, options, md, NULL);
    options = PCRE2_NO_UTF_CHECK;
    if (m < 0)
      break; /* no further match (or text the regex cannot read: kept whole) */
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    size_t ms = ov[0], me = ov[1];
    if (me == ms) { /* an empty match splits nothing: step one character on */
      if (ms >= p->n)
        break;
      at = ms + utf8_len((unsigned char)p->s[ms]);
      continue;
    }
    if (ms > last)
      rc = pieces_push(out, p->s + last, ms - last, p->first && last == 0);
    if (!removed && rc == 0)
      rc = pieces_push(out, p->s + ms, me - ms, p->first && ms == 0);
    last = at = me;
  }
  if (rc == 0 && last < p->n)
    rc = pieces_push(out, p->s + last, p->n - last, p->first && last == 0);
  pcre2_match_data_free(md);
  return rc;
}

static int metaspace(const qrt_tok_step *st, const piece *p, pieces *out) {
  buf b = {0};
  unsigned scheme = st->arg & 0xFF;
  int rc = 0;
  int starts = p->n >= st->a_len && memcmp(p->s, st->a, st->a_len) == 0;
  if (!starts && p->n > 0 &&
      (scheme == QTOK_PREPEND_ALWAYS || (scheme == QTOK_PREPEND_FIRST && p->first)))
    rc = buf_add(&b, st->a, st->a_len);
  for (size_t i = 0; i < p->n && rc == 0; ++i)
    rc = p->s[i] == ' ' ? buf_add(&b, st->a, st->a_len) : buf_add(&b, p->s + i, 1);
  if (rc == 0 && !b.s)
    rc = buf_add(&b, "", 0);
  if (rc == 0 && (st->arg >> 8)) { /* split before each replacement (MergedWithNext) */
    size_t last = 0;
    for (size_t i = 1; i + st->a_len <= b.n && rc == 0; ++i)
      if (memcmp(b.s + i, st->a, st->a_len) == 0) {
        rc = pieces_push(out, b.s + last, i - last, p->first && last == 0);
        last = i;
      }
    if (rc == 0 && last < b.n)
      rc = pieces_push(out, b.s + last, b.n - last, p->first && last == 0);
  } else if (rc == 0 && b.n > 0) {
    rc = pieces_push(out, b.s, b.n, p->first);
  }
  free(b.s);
  return rc;
}

static int pre_step(const qrt_tokenizer *t, const qrt_tok_step *st, const piece *p, pieces *out) {
  if (st->op == QTOK_PRE_SPLIT)
    return split_by_regex((const pcre2_code *)st->regex, st->arg == QTOK_SPLIT_REMOVED, p, out);
  if (st->op == QTOK_PRE_METASPACE)
    return metaspace(st, p, out);
  /* QTOK_PRE_BYTE_LEVEL */
  buf spaced = {0};
  int prefix = (st->arg & 1) && (p->n == 0 || p->s[0] != ' ');
  if ((prefix && buf_add(&spaced, " ", 1) != 0) || buf_add(&spaced, p->s, p->n) != 0) {
    free(spaced.s);
    return -1;
  }
  piece whole = {spaced.s, spaced.n, p->first};
  pieces words = {0};
  int rc = (st->arg & 2) ? split_by_regex((const pcre2_code *)st->regex, 0, &whole, &words)
                         : pieces_push(&words, whole.s, whole.n, whole.first);
  for (size_t i = 0; i < words.n && rc == 0; ++i) {
    buf mapped = {0};
    rc = byte_level_map(words.v[i].s, words.v[i].n, &mapped);
    if (rc == 0 && mapped.n > 0)
      rc = pieces_push(out, mapped.s, mapped.n, words.v[i].first);
    free(mapped.s);
  }
  pieces_free(&words);
  free(spaced.s);
  return rc;
}

/* ---- the model: one word to ids ---- */
static int32_t merge_by_rank(const void *ctx, int32_t a, int32_t b, double *rank) {
  const qrt_tokenizer *t = (const qrt_tokenizer *)ctx;
  int32_t r;
  int32_t merged = qrt_pair_map_find(&t->merges, a, b, &r);
  if (merged >= 0)
    *rank = r;
  return merged;
}

/* SentencePiece's BPE (QTOK_FLAG_SPM_MERGE): a character outside the
 * vocabulary stays one symbol while merging (it may still join a
 * neighbour: Llama 2 has "\u2581\u00a0" but no "\u00a0") and falls back to
 * bytes only at the end; two symbols join when their text is a token,
 * lower ids (higher SentencePiece scores) first. Hugging Face's BPE falls
 * back first; qopt follows sentencepiece, which trained these vocabularies
 * and which llama.cpp follows too. Symbol -(k + 2) is unknown character k. */
typedef struct spm_word {
  const qrt_tokenizer *t;
  const char *s;
  const size_t *unknown_at, *unknown_len;
} spm_word;

static const char *symbol_text(const spm_word *w, int32_t sym, size_t *len) {
  if (sym >= 0) {
    *len = w->t->piece_len[sym];
    return w->t->piece[sym];
  }
  *len = w->unknown_len[-sym - 2];
  return w->s + w->unknown_at[-sym - 2];
}

static int32_t merge_by_text(const void *ctx, int32_t a, int32_t b, double *rank) {
  const spm_word *w = (const spm_word *)ctx;
  size_t la, lb;
  const char *ta = symbol_text(w, a, &la), *tb = symbol_text(w, b, &lb);
  if (la + lb > (size_t)w->t->max_piece_len)
    return -1;
  char joined[256], *buf = la + lb <= sizeof joined ? joined : (char *)malloc(la + lb);
  if (!buf)
    return -1;
  memcpy(buf, ta, la);
  memcpy(buf + la, tb, lb);
  int32_t id = qrt_string_map_find(&w->t->ids, buf, la + lb);
  if (buf != joined)
    free(buf);
  if (id < 0 || w->t->merge_rank[id] < 0)
    return -1; /* no merge makes this token */
  *rank = w->t->merge_rank[id];
  return id;
}

/* Byte fallback for a character outside the vocabulary: 1 when its bytes
 * were pushed, 0 when some byte has no token, -1 when out of memory. */
static int push_bytes(const qrt_tokenizer *t, const char *s, size_t len, qrt_ids *out) {
  int32_t bytes[4];
  for (size_t j = 0; j < len; ++j) {
    char name[8];
    snprintf(name, sizeof name, "<0x%02X>", (unsigned char)s[j]);
    if ((bytes[j] = qrt_string_map_find(&t->ids, name, 6)) < 0)
      return 0;
  }
  for (size_t j = 0; j < len; ++j)
    if (qrt_ids_push(out, bytes[j]) != 0)
      return -1;
  return 1;
}

/* An unknown character: its bytes, else <unk> (one per run with fuse_unk). */
static int push_unknown(const qrt_tokenizer *t, const char *s, size_t len, int *last_unk,
                        qrt_ids *out) {
  if (t->flags & QTOK_FLAG_BYTE_FALLBACK) {
    int rc = push_bytes(t, s, len, out);
    if (rc != 0) {
      *last_unk = 0;
      return rc < 0 ? -1 : 0;
    }
  }
  if (t->unk < 0 || (*last_unk && (t->flags & QTOK_FLAG_FUSE_UNK)))
    return 0;
  *last_unk = 1;
  return qrt_ids_push(out, t->unk);
}

static int encode_word(const qrt_tokenizer *t, const char *s, size_t n, qrt_ids *out) {
  if (t->flags & QTOK_FLAG_IGNORE_MERGES) {
    int32_t whole = qrt_string_map_find(&t->ids, s, n);
    if (whole >= 0)
      return qrt_ids_push(out, whole);
  }
  int spm = (t->flags & QTOK_FLAG_SPM_MERGE) != 0;
  size_t *unknown_at = spm ? (size_t *)malloc(sizeof(size_t) * (n + 1)) : NULL;
  size_t *unknown_len = spm ? (size_t *)malloc(sizeof(size_t) * (n + 1)) : NULL;
  int rc = spm && (!unknown_at || !unknown_len) ? -1 : 0;
  int64_t from = out->n;
  int last_unk = 0;
  size_t unknowns = 0;
  for (size_t i = 0; i < n && rc == 0;) {
    size_t len = utf8_len((unsigned char)s[i]);
    if (len > n - i)
      len = n - i;
    int32_t id = qrt_string_map_find(&t->ids, s + i, len);
    if (id >= 0) {
      rc = qrt_ids_push(out, id);
      last_unk = 0;
    } else if (spm) {
      unknown_at[unknowns] = i;
      unknown_len[unknowns] = len;
      rc = qrt_ids_push(out, -(int32_t)(unknowns++) - 2);
    } else {
      rc = push_unknown(t, s + i, len, &last_unk, out);
    }
    i += len;
  }
  if (rc == 0 && !spm)
    rc = qrt_bpe_merge(t, out, from, merge_by_rank);
  if (rc == 0 && spm) {
    spm_word w = {t, s, unknown_at, unknown_len};
    rc = qrt_bpe_merge(&w, out, from, merge_by_text);
    /* the unknown characters left: their bytes (or <unk>) in place */
    int64_t merged = out->n - from;
    int32_t *symbols = (int32_t *)malloc(sizeof(int32_t) * (size_t)(merged ? merged : 1));
    if (!symbols)
      rc = -1;
    if (rc == 0) {
      memcpy(symbols, out->v + from, sizeof(int32_t) * (size_t)merged);
      out->n = from;
      last_unk = 0;
      for (int64_t k = 0; k < merged && rc == 0; ++k) {
        if (symbols[k] >= 0) {
          rc = qrt_ids_push(out, symbols[k]);
          last_unk = 0;
        } else {
          size_t u = (size_t)(-symbols[k] - 2);
          rc = push_unknown(t, s + unknown_at[u], unknown_len[u], &last_unk, out);
        }
      }
    }
    free(symbols);
  }
  free(unknown_at);
  free(unknown_len);
  return rc;
}

static int encode_run(const qrt_tokenizer *t, const char *s, size_t n, int first, qrt_ids *out) {
  pieces cur = {0};
  int rc = pieces_push(&cur, s, n, first);
  for (uint32_t k = 0; k < t->n_pre && rc == 0; ++k) {
    pieces next = {0};
    for (size_t i = 0; i < cur.n && rc == 0; ++i)
      rc = pre_step(t, &t->pre[k], &cur.v[i], &next);
    pieces_free(&cur);
    cur = next;
  }
  for (size_t i = 0; i < cur.n && rc == 0; ++i)
    if (cur.v[i].n > 0)
      rc = encode_word(t, cur.v[i].s, cur.v[i].n, out);
  pieces_free(&cur);
  return rc;
}

/* Step 2 on one run of raw text between non-normalized added tokens. */
static int encode_normalized(const qrt_tokenizer *t, const char *s, size_t n, int first,
                             qrt_ids *out) {
  buf norm;
  if (normalize(t, s, n, &norm) != 0)
    return -1;
  int rc = 0;
  size_t at = 0;
  while (at < norm.n && rc == 0) {
    size_t start = 0, end = 0;
    int64_t k = find_added(t, 1, norm.s, at, norm.n, &start, &end);
    size_t stop = k >= 0 ? start : norm.n;
    if (stop > at)
      rc = encode_run(t, norm.s + at, stop - at, first && at == 0, out);
    if (k >= 0 && rc == 0)
      rc = qrt_ids_push(out, t->added[k].id);
    at = k >= 0 ? end : norm.n;
  }
  free(norm.s);
  return rc;
}

int qrt_hf_encode(const qrt_tokenizer *t, const char *text, size_t len, qrt_ids *out) {
  size_t at = 0;
  while (at < len) {
    size_t start = 0, end = 0;
    int64_t k = find_added(t, 0, text, at, len, &start, &end);
    size_t stop = k >= 0 ? start : len;
    if (stop > at && encode_normalized(t, text + at, stop - at, at == 0, out) != 0)
      return -1;
    if (k >= 0 && qrt_ids_push(out, t->added[k].id) != 0)
      return -1;
    at = k >= 0 ? end : len;
  }
  return 0;
}

/* ---- preparing a loaded QTOK ---- */
static char *decode_surface(const qrt_tokenizer *t, const char *p, size_t n) {
  buf b = {0};
  int rc = buf_add(&b, "", 0);
  int byte = t->flags & QTOK_FLAG_BYTE_FALLBACK ? qrt_byte_piece(p, n) : -1;
  if (byte >= 0) {
    char c = (char)byte;
    rc = buf_add(&b, &c, 1);
  } else if (t->flags & QTOK_FLAG_BYTE_LEVEL) {
    for (size_t i = 0; i < n && rc == 0;) {
      size_t len = utf8_len((unsigned char)p[i]);
      unsigned cp = len == 2 && i + 1 < n ? ((unsigned)(p[i] & 0x1F) << 6) | (p[i + 1] & 0x3F)
                                          : (unsigned char)p[i];
      int mapped = len <= 2 ? codepoint_to_byte(cp) : -1;
      char c = (char)mapped;
      rc = mapped >= 0 ? buf_add(&b, &c, 1) : buf_add(&b, p + i, len > n - i ? n - i : len);
      i += len;
    }
  } else if (t->flags & QTOK_FLAG_METASPACE) {
    for (size_t i = 0; i < n && rc == 0;) {
      if (n - i >= 3 && memcmp(p + i, "\xE2\x96\x81", 3) == 0) {
        rc = buf_add(&b, " ", 1);
        i += 3;
      } else {
        rc = buf_add(&b, p + i, 1);
        i += 1;
      }
    }
  } else {
    rc = buf_add(&b, p, n);
  }
  if (rc != 0) {
    free(b.s);
    return NULL;
  }
  return b.s;
}

int qrt_hf_prepare(qrt_tokenizer *t, char *err, size_t err_len) {
  for (uint32_t k = 0; k < t->n_normalizer; ++k)
    if (t->normalizer[k].op == QTOK_NORM_UNICODE ? t->normalizer[k].arg > QTOK_UNICODE_NFKD
                                                  : t->normalizer[k].op != QTOK_NORM_PREPEND &&
                                                        t->normalizer[k].op != QTOK_NORM_REPLACE) {
      qrt_set_error(err, err_len, "tokenizer (QTOK): unknown normalizer step %u (argument %u)",
                    t->normalizer[k].op, t->normalizer[k].arg);
      return -1;
    }
  for (uint32_t k = 0; k < t->n_pre; ++k) {
    qrt_tok_step *st = &t->pre[k];
    const char *pattern = NULL;
    if (st->op == QTOK_PRE_SPLIT)
      pattern = st->a;
    else if (st->op == QTOK_PRE_BYTE_LEVEL && (st->arg & 2))
      pattern = QTOK_GPT2_PATTERN;
    else if (st->op != QTOK_PRE_BYTE_LEVEL && st->op != QTOK_PRE_METASPACE) {
      qrt_set_error(err, err_len, "tokenizer (QTOK): unknown pre-tokenizer step %u", st->op);
      return -1;
    }
    if (st->op == QTOK_PRE_METASPACE && st->a_len == 0) {
      qrt_set_error(err, err_len, "tokenizer (QTOK): Metaspace without a replacement");
      return -1;
    }
    if (!pattern)
      continue;
    int code;
    PCRE2_SIZE offset;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                   PCRE2_UTF | PCRE2_UCP, &code, &offset, NULL);
    if (!re) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(code, msg, sizeof msg);
      qrt_set_error(err, err_len, "tokenizer: the pre-tokenizer's regex does not compile at %zu: %s",
                    (size_t)offset, (const char *)msg);
      return -1;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* where JIT is missing, the interpreter runs */
    st->regex = re;
  }
  t->surface = (char **)calloc((size_t)t->size, sizeof(char *));
  if (!t->surface) {
    qrt_set_error(err, err_len, "out of memory loading the tokenizer");
    return -1;
  }
  for (int64_t i = 0; i < t->size; ++i)
    if (!(t->surface[i] = decode_surface(t, t->piece[i], t->piece_len[i]))) {
      qrt_set_error(err, err_len, "out of memory loading the tokenizer");
      return -1;
    }
  /* added tokens print their text as it is, special ones nothing; those
   * matched after normalization are matched in their normalized form */
  for (uint32_t k = 0; k < t->n_added; ++k) {
    qrt_added_token *a = &t->added[k];
    char *shown = (char *)malloc(a->flags & QTOK_ADDED_SPECIAL ? 1 : a->len + 1);
    if (!shown) {
      qrt_set_error(err, err_len, "out of memory loading the tokenizer");
      return -1;
    }
    if (a->flags & QTOK_ADDED_SPECIAL)
      shown[0] = '\0';
    else
      memcpy(shown, a->content, a->len + 1);
    free(t->surface[a->id]);
    t->surface[a->id] = shown;
    if (a->flags & QTOK_ADDED_NORMALIZED) {
      buf norm;
      if (normalize(t, a->content, a->len, &norm) != 0) {
        qrt_set_error(err, err_len, "out of memory loading the tokenizer");
        return -1;
      }
      free(a->content);
      a->content = norm.s;
      a->len = (uint32_t)norm.n;
      if (a->len == 0) {
        qrt_set_error(err, err_len, "tokenizer (QTOK): an added token normalizes to nothing");
        return -1;
      }
    }
    t->added_first[(a->flags & QTOK_ADDED_NORMALIZED) != 0][(unsigned char)a->content[0]] = 1;
  }
  return 0;
}

void qrt_hf_release(qrt_tokenizer *t) {
  for (uint32_t k = 0; t->pre && k < t->n_pre; ++k)
    pcre2_code_free((pcre2_code *)t->pre[k].regex);
}
