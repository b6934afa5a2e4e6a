/* jinja_value.c - the values a chat template computes with, the arena they
 * live in, and their printed forms (Python's str(), repr() and json.dumps,
 * since Hugging Face renders templates in Python). */
#include "jinja_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct jarena_block {
  jarena_block *next;
  size_t used, cap;
  max_align_t data[];
};

void *jarena_alloc(jctx *c, size_t size) {
  size = (size + 15) & ~(size_t)15;
  jarena_block *b = c->arena.head;
  if (!b || b->cap - b->used < size) {
    size_t cap = size > 65536 ? size : 65536;
    b = (jarena_block *)malloc(sizeof(jarena_block) + cap);
    if (!b)
      jfail(c, 0, "out of memory");
    b->next = c->arena.head, b->used = 0, b->cap = cap;
    c->arena.head = b;
  }
  void *p = (char *)b->data + b->used;
  b->used += size;
  memset(p, 0, size);
  return p;
}

void jarena_free(jarena *a) {
  while (a->head) {
    jarena_block *next = a->head->next;
    free(a->head);
    a->head = next;
  }
}

void jfail(jctx *c, int line, const char *fmt, ...) {
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (line > 0)
    snprintf(c->err, c->err_len, "chat template line %d: %s", line, msg);
  else
    snprintf(c->err, c->err_len, "chat template: %s", msg);
  longjmp(c->fail, 1);
}

jstr jstr_of(const char *s) {
  jstr r = {s, strlen(s)};
  return r;
}
jstr jstr_copy(jctx *c, const char *p, size_t n) {
  char *d = (char *)jarena_alloc(c, n + 1);
  memcpy(d, p, n);
  jstr r = {d, n};
  return r;
}
int jstr_eq(jstr a, const char *s) { return a.n == strlen(s) && memcmp(a.p, s, a.n) == 0; }
int jstr_same(jstr a, jstr b) { return a.n == b.n && memcmp(a.p, b.p, a.n) == 0; }

void jbuf_put(jctx *c, jbuf *b, const char *p, size_t n) {
  if (b->cap - b->n < n + 1) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap - b->n < n + 1) {
      if (cap > SIZE_MAX / 2)
        jfail(c, 0, "out of memory");
      cap *= 2;
    }
    char *np = (char *)jarena_alloc(c, cap);
    if (b->n)
      memcpy(np, b->p, b->n);
    b->p = np, b->cap = cap;
  }
  memcpy(b->p + b->n, p, n);
  b->n += n;
  b->p[b->n] = 0;
}
void jbuf_puts(jctx *c, jbuf *b, const char *s) { jbuf_put(c, b, s, strlen(s)); }
jstr jbuf_str(jbuf *b) {
  jstr r = {b->p ? b->p : "", b->n};
  return r;
}

void jnodes_push(jctx *c, jnodes *l, jnode *n) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 4;
    jnode **v = (jnode **)jarena_alloc(c, cap * sizeof *v);
    if (l->n)
      memcpy(v, l->v, l->n * sizeof *v);
    l->v = v, l->cap = cap;
  }
  l->v[l->n++] = n;
}

jvalue jv_undef(jstr name) {
  jvalue v = {JV_UNDEF, {0}};
  v.u.s = name;
  return v;
}
jvalue jv_none(void) {
  jvalue v = {JV_NONE, {0}};
  return v;
}
jvalue jv_bool(int b) {
  jvalue v = {JV_BOOL, {0}};
  v.u.b = b != 0;
  return v;
}
jvalue jv_int(int64_t i) {
  jvalue v = {JV_INT, {0}};
  v.u.i = i;
  return v;
}
jvalue jv_float(double f) {
  jvalue v = {JV_FLOAT, {0}};
  v.u.f = f;
  return v;
}
jvalue jv_str(jstr s) {
  jvalue v = {JV_STR, {0}};
  v.u.s = s;
  return v;
}
jvalue jv_list(jctx *c) {
  jvalue v = {JV_LIST, {0}};
  v.u.l = (jlist *)jarena_alloc(c, sizeof(jlist));
  return v;
}
jvalue jv_dict(jctx *c) {
  jvalue v = {JV_DICT, {0}};
  v.u.d = (jdict *)jarena_alloc(c, sizeof(jdict));
  return v;
}

void jlist_push(jctx *c, jlist *l, jvalue v) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 4;
    jvalue *nv = (jvalue *)jarena_alloc(c, cap * sizeof *nv);
    if (l->n)
      memcpy(nv, l->v, l->n * sizeof *nv);
    l->v = nv, l->cap = cap;
  }
  l->v[l->n++] = v;
}

jvalue *jdict_get(const jdict *d, jstr key) {
  for (size_t i = 0; i < d->n; ++i)
    if (jstr_same(d->k[i], key))
      return &d->v[i];
  return NULL;
}

void jdict_set(jctx *c, jdict *d, jstr key, jvalue v) {
  jvalue *slot = jdict_get(d, key);
  if (slot) {
    *slot = v;
    return;
  }
  if (d->n == d->cap) {
    size_t cap = d->cap ? 2 * d->cap : 4;
    jstr *nk = (jstr *)jarena_alloc(c, cap * sizeof *nk);
    jvalue *nv = (jvalue *)jarena_alloc(c, cap * sizeof *nv);
    if (d->n) {
      memcpy(nk, d->k, d->n * sizeof *nk);
      memcpy(nv, d->v, d->n * sizeof *nv);
    }
    d->k = nk, d->v = nv, d->cap = cap;
  }
  d->k[d->n] = key;
  d->v[d->n++] = v;
}

const char *jtype_name(jtype t) {
  static const char *names[] = {"undefined", "none", "boolean", "integer", "float",
                                "string",    "list", "dict",    "function"};
  return names[t];
}

int jv_truthy(jvalue v) {
  switch (v.t) {
  case JV_UNDEF:
  case JV_NONE:
    return 0;
  case JV_BOOL:
    return v.u.b;
  case JV_INT:
    return v.u.i != 0;
  case JV_FLOAT:
    return v.u.f != 0.0;
  case JV_STR:
    return v.u.s.n != 0;
  case JV_LIST:
    return v.u.l->n != 0;
  case JV_DICT:
    return v.u.d->n != 0;
  case JV_FUNC:
    return 1;
  }
  return 0;
}

static int is_number(jvalue v) { return v.t == JV_BOOL || v.t == JV_INT || v.t == JV_FLOAT; }
static double number_of(jvalue v) {
  return v.t == JV_FLOAT ? v.u.f : v.t == JV_INT ? (double)v.u.i : (double)v.u.b;
}

/* Python's ==: numbers by value (True == 1), containers element-wise;
 * undefined equals only undefined (Jinja's Undefined.__eq__). */
int jv_equal(jvalue a, jvalue b) {
  if (is_number(a) && is_number(b)) {
    if (a.t != JV_FLOAT && b.t != JV_FLOAT)
      return (a.t == JV_INT ? a.u.i : a.u.b) == (b.t == JV_INT ? b.u.i : b.u.b);
    return number_of(a) == number_of(b);
  }
  if (a.t != b.t)
    return 0;
  switch (a.t) {
  case JV_UNDEF:
  case JV_NONE:
    return 1;
  case JV_STR:
    return jstr_same(a.u.s, b.u.s);
  case JV_LIST:
    if (a.u.l->n != b.u.l->n || a.u.l->is_tuple != b.u.l->is_tuple)
      return 0;
    for (size_t i = 0; i < a.u.l->n; ++i)
      if (!jv_equal(a.u.l->v[i], b.u.l->v[i]))
        return 0;
    return 1;
  case JV_DICT:
    if (a.u.d->n != b.u.d->n)
      return 0;
    for (size_t i = 0; i < a.u.d->n; ++i) {
      jvalue *o = jdict_get(b.u.d, a.u.d->k[i]);
      if (!o || !jv_equal(a.u.d->v[i], *o))
        return 0;
    }
    return 1;
  case JV_FUNC:
    return a.u.fn.id == b.u.fn.id && a.u.fn.self == b.u.fn.self;
  default:
    return 0;
  }
}

/* Python's repr() of a float: the shortest digits that read back, fixed
 * notation for exponents in [-4, 16), scientific otherwise. */
static void float_repr(double f, char *out, size_t len) {
  if (isnan(f)) {
    snprintf(out, len, "nan");
    return;
  }
  if (isinf(f)) {
    snprintf(out, len, f < 0 ? "-inf" : "inf");
    return;
  }
  char sci[40];
  for (int prec = 0; prec <= 17; ++prec) {
    snprintf(sci, sizeof sci, "%.*e", prec, f);
    if (strtod(sci, NULL) == f)
      break;
  }
  /* sci is [-]D[.DDD]e[+-]XX */
  char digits[24];
  size_t nd = 0;
  const char *p = sci;
  int negative = *p == '-';
  if (negative)
    ++p;
  for (; *p && *p != 'e'; ++p)
    if (*p != '.')
      digits[nd++] = *p;
  int exp = atoi(p + 1);
  while (nd > 1 && digits[nd - 1] == '0')
    --nd;
  digits[nd] = 0;
  char body[48];
  if (exp >= -4 && exp < 16) {
    size_t k = 0;
    if (exp < 0) {
      k += (size_t)snprintf(body, sizeof body, "0.");
      for (int i = -1; i > exp; --i)
        body[k++] = '0';
      memcpy(body + k, digits, nd + 1);
    } else {
      for (int i = 0; i <= exp; ++i)
        body[k++] = i < (int)nd ? digits[i] : '0';
      body[k++] = '.';
      if ((int)nd > exp + 1)
        memcpy(body + k, digits + exp + 1, nd - (size_t)exp);
      else
        body[k++] = '0', body[k] = 0;
    }
  } else {
    if (nd > 1)
      snprintf(body, sizeof body, "%c.%se%c%02d", digits[0], digits + 1, exp < 0 ? '-' : '+',
               exp < 0 ? -exp : exp);
    else
      snprintf(body, sizeof body, "%ce%c%02d", digits[0], exp < 0 ? '-' : '+',
               exp < 0 ? -exp : exp);
  }
  snprintf(out, len, "%s%s", negative ? "-" : "", body);
}

static void str_repr(jctx *c, jbuf *b, jstr s) {
  int has_single = memchr(s.p, '\'', s.n) != NULL, has_double = memchr(s.p, '"', s.n) != NULL;
  char q = has_single && !has_double ? '"' : '\'';
  jbuf_put(c, b, &q, 1);
  for (size_t i = 0; i < s.n; ++i) {
    unsigned char ch = (unsigned char)s.p[i];
    char esc[8];
    if (ch == '\\' || ch == (unsigned char)q)
      esc[0] = '\\', esc[1] = (char)ch, esc[2] = 0;
    else if (ch == '\n')
      strcpy(esc, "\\n");
    else if (ch == '\r')
      strcpy(esc, "\\r");
    else if (ch == '\t')
      strcpy(esc, "\\t");
    else if (ch < 0x20 || ch == 0x7f)
      snprintf(esc, sizeof esc, "\\x%02x", ch);
    else
      esc[0] = (char)ch, esc[1] = 0;
    jbuf_puts(c, b, esc);
  }
  jbuf_put(c, b, &q, 1);
}

static void number_into(jctx *c, jbuf *b, jvalue v) {
  char num[64];
  if (v.t == JV_INT)
    snprintf(num, sizeof num, "%lld", (long long)v.u.i);
  else
    float_repr(v.u.f, num, sizeof num);
  jbuf_puts(c, b, num);
}

void jv_repr_into(jctx *c, jbuf *b, jvalue v) {
  switch (v.t) {
  case JV_STR:
    str_repr(c, b, v.u.s);
    return;
  case JV_LIST:
    jbuf_puts(c, b, v.u.l->is_tuple ? "(" : "[");
    for (size_t i = 0; i < v.u.l->n; ++i) {
      if (i)
        jbuf_puts(c, b, ", ");
      jv_repr_into(c, b, v.u.l->v[i]);
    }
    jbuf_puts(c, b, !v.u.l->is_tuple ? "]" : v.u.l->n == 1 ? ",)" : ")");
    return;
  case JV_DICT:
    if (v.u.d->is_namespace) {
      jbuf_puts(c, b, "<Namespace>");
      return;
    }
    jbuf_puts(c, b, "{");
    for (size_t i = 0; i < v.u.d->n; ++i) {
      if (i)
        jbuf_puts(c, b, ", ");
      str_repr(c, b, v.u.d->k[i]);
      jbuf_puts(c, b, ": ");
      jv_repr_into(c, b, v.u.d->v[i]);
    }
    jbuf_puts(c, b, "}");
    return;
  default:
    jv_str_into(c, b, v);
  }
}

void jv_str_into(jctx *c, jbuf *b, jvalue v) {
  switch (v.t) {
  case JV_UNDEF:
    return;
  case JV_NONE:
    jbuf_puts(c, b, "None");
    return;
  case JV_BOOL:
    jbuf_puts(c, b, v.u.b ? "True" : "False");
    return;
  case JV_INT:
  case JV_FLOAT:
    number_into(c, b, v);
    return;
  case JV_STR:
    jbuf_put(c, b, v.u.s.p, v.u.s.n);
    return;
  case JV_FUNC:
    jbuf_puts(c, b, "<function>");
    return;
  default:
    jv_repr_into(c, b, v);
  }
}

jstr jv_to_str(jctx *c, jvalue v) {
  if (v.t == JV_STR)
    return v.u.s;
  jbuf b = {0};
  jv_str_into(c, &b, v);
  return jbuf_str(&b);
}

static void json_string(jctx *c, jbuf *b, jstr s) {
  jbuf_puts(c, b, "\"");
  for (size_t i = 0; i < s.n; ++i) {
    unsigned char ch = (unsigned char)s.p[i];
    char esc[8];
    switch (ch) {
    case '"':
      strcpy(esc, "\\\"");
      break;
    case '\\':
      strcpy(esc, "\\\\");
      break;
    case '\n':
      strcpy(esc, "\\n");
      break;
    case '\r':
      strcpy(esc, "\\r");
      break;
    case '\t':
      strcpy(esc, "\\t");
      break;
    case '\b':
      strcpy(esc, "\\b");
      break;
    case '\f':
      strcpy(esc, "\\f");
      break;
    default:
      if (ch < 0x20)
        snprintf(esc, sizeof esc, "\\u%04x", ch);
      else
        esc[0] = (char)ch, esc[1] = 0;
    }
    jbuf_puts(c, b, esc);
  }
  jbuf_puts(c, b, "\"");
}

static void json_newline(jctx *c, jbuf *b, int indent, int depth) {
  jbuf_puts(c, b, "\n");
  for (int i = 0; i < indent * depth; ++i)
    jbuf_puts(c, b, " ");
}

void jv_json_into(jctx *c, jbuf *b, jvalue v, int indent, int depth, int line) {
  if (depth > 100)
    jfail(c, line, "tojson: value nested too deeply");
  switch (v.t) {
  case JV_NONE:
    jbuf_puts(c, b, "null");
    return;
  case JV_BOOL:
    jbuf_puts(c, b, v.u.b ? "true" : "false");
    return;
  case JV_INT:
    number_into(c, b, v);
    return;
  case JV_FLOAT:
    if (isnan(v.u.f))
      jbuf_puts(c, b, "NaN");
    else if (isinf(v.u.f))
      jbuf_puts(c, b, v.u.f < 0 ? "-Infinity" : "Infinity");
    else
      number_into(c, b, v);
    return;
  case JV_STR:
    json_string(c, b, v.u.s);
    return;
  case JV_LIST:
  case JV_DICT: {
    int is_list = v.t == JV_LIST;
    size_t n = is_list ? v.u.l->n : v.u.d->n;
    jbuf_puts(c, b, is_list ? "[" : "{");
    for (size_t i = 0; i < n; ++i) {
      if (i)
        jbuf_puts(c, b, indent >= 0 ? "," : ", ");
      if (indent >= 0)
        json_newline(c, b, indent, depth + 1);
      if (!is_list) {
        json_string(c, b, v.u.d->k[i]);
        jbuf_puts(c, b, ": ");
      }
      jv_json_into(c, b, is_list ? v.u.l->v[i] : v.u.d->v[i], indent, depth + 1, line);
    }
    if (indent >= 0 && n)
      json_newline(c, b, indent, depth);
    jbuf_puts(c, b, is_list ? "]" : "}");
    return;
  }
  default:
    jfail(c, line, "tojson: a value of type %s is not JSON serializable", jtype_name(v.t));
  }
}

size_t jutf8_len(jstr s) {
  size_t n = 0;
  for (size_t i = 0; i < s.n; ++i)
    n += ((unsigned char)s.p[i] & 0xC0) != 0x80;
  return n;
}

size_t jutf8_offset(jstr s, size_t index) {
  size_t seen = 0;
  for (size_t i = 0; i < s.n; ++i)
    if (((unsigned char)s.p[i] & 0xC0) != 0x80) {
      if (seen == index)
        return i;
      ++seen;
    }
  return s.n;
}

void jstr_chars_into(jctx *c, jstr s, jlist *out) {
  for (size_t i = 0, n = jutf8_len(s); i < n; ++i) {
    size_t from = jutf8_offset(s, i), to = jutf8_offset(s, i + 1);
    jstr ch = {s.p + from, to - from};
    jlist_push(c, out, jv_str(ch));
  }
}
