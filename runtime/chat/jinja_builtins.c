/* jinja_builtins.c - the filters, tests, methods and global functions chat
 * templates use, with Jinja's (and Python's) behaviour; tojson is
 * Hugging Face's json.dumps(ensure_ascii=False), not Jinja's HTML-safe one.
 * Anything else is refused by name. Case mapping is ASCII only. */
#include "jinja_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
  F_RAISE_EXCEPTION = 1,
  F_NAMESPACE,
  F_RANGE,
  F_STRFTIME_NOW,
  /* methods: self is the value */
  M_STRIP,
  M_LSTRIP,
  M_RSTRIP,
  M_UPPER,
  M_LOWER,
  M_TITLE,
  M_CAPITALIZE,
  M_STARTSWITH,
  M_ENDSWITH,
  M_SPLIT,
  M_REPLACE,
  M_ITEMS,
  M_KEYS,
  M_VALUES,
  M_GET
};

typedef struct named_id {
  const char *name;
  int id;
} named_id;

static int find_id(const named_id *table, jstr name) {
  for (; table->name; ++table)
    if (jstr_eq(name, table->name))
      return table->id;
  return 0;
}

static jvalue function(int id, jvalue *self) {
  jvalue v = {JV_FUNC, {0}};
  v.u.fn.id = id;
  v.u.fn.self = self;
  return v;
}

jvalue jinja_global(jstr name) {
  static const named_id globals[] = {{"raise_exception", F_RAISE_EXCEPTION},
                                     {"namespace", F_NAMESPACE},
                                     {"range", F_RANGE},
                                     {"strftime_now", F_STRFTIME_NOW},
                                     {NULL, 0}};
  int id = find_id(globals, name);
  return id ? function(id, NULL) : jv_undef(name);
}

jvalue jinja_attribute(jctx *c, int line, jvalue obj, jstr name) {
  static const named_id str_methods[] = {
      {"strip", M_STRIP},       {"lstrip", M_LSTRIP},         {"rstrip", M_RSTRIP},
      {"upper", M_UPPER},       {"lower", M_LOWER},           {"title", M_TITLE},
      {"capitalize", M_CAPITALIZE}, {"startswith", M_STARTSWITH}, {"endswith", M_ENDSWITH},
      {"split", M_SPLIT},       {"replace", M_REPLACE},       {NULL, 0}};
  static const named_id dict_methods[] = {
      {"items", M_ITEMS}, {"keys", M_KEYS}, {"values", M_VALUES}, {"get", M_GET}, {NULL, 0}};
  (void)line;
  const named_id *methods = obj.t == JV_STR ? str_methods
                            : obj.t == JV_DICT && !obj.u.d->is_namespace ? dict_methods
                                                                         : NULL;
  int id = methods ? find_id(methods, name) : 0;
  if (id) {
    jvalue *self = (jvalue *)jarena_alloc(c, sizeof(jvalue));
    *self = obj;
    return function(id, self);
  }
  if (obj.t == JV_DICT) {
    jvalue *v = jdict_get(obj.u.d, name);
    if (v)
      return *v;
  }
  return jv_undef(name);
}

/* ---- strings ---- */

static int is_space(char ch) {
  return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}
static int in_set(char ch, const jstr *chars) {
  return chars ? memchr(chars->p, ch, chars->n) != NULL : is_space(ch);
}

static jstr strip(jstr s, const jstr *chars, int left, int right) {
  while (left && s.n && in_set(s.p[0], chars))
    ++s.p, --s.n;
  while (right && s.n && in_set(s.p[s.n - 1], chars))
    --s.n;
  return s;
}

static char ascii_upper(char ch) { return ch >= 'a' && ch <= 'z' ? (char)(ch - 32) : ch; }
static char ascii_lower(char ch) { return ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch; }
static int is_alpha(char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'); }

typedef enum case_map { CASE_UPPER, CASE_LOWER, CASE_TITLE, CASE_CAPITALIZE } case_map;
static jvalue change_case(jctx *c, jstr s, case_map how) {
  char *d = (char *)jarena_alloc(c, s.n + 1);
  int word_start = 1;
  for (size_t i = 0; i < s.n; ++i) {
    char ch = s.p[i];
    switch (how) {
    case CASE_UPPER: d[i] = ascii_upper(ch); break;
    case CASE_LOWER: d[i] = ascii_lower(ch); break;
    case CASE_CAPITALIZE: d[i] = i == 0 ? ascii_upper(ch) : ascii_lower(ch); break;
    case CASE_TITLE:
      d[i] = word_start ? ascii_upper(ch) : ascii_lower(ch);
      word_start = !is_alpha(ch);
      break;
    }
  }
  jstr r = {d, s.n};
  return jv_str(r);
}

static jvalue replace(jctx *c, jstr s, jstr old, jstr with, int64_t count) {
  jbuf b = {0};
  size_t i = 0;
  int64_t done = 0;
  while (i <= s.n) {
    if ((count < 0 || done < count) && i + old.n <= s.n && memcmp(s.p + i, old.p, old.n) == 0) {
      jbuf_put(c, &b, with.p, with.n);
      if (old.n == 0) { /* Python inserts between every character */
        if (i < s.n)
          jbuf_put(c, &b, s.p + i, 1);
        ++i;
      } else {
        i += old.n;
      }
      ++done;
      continue;
    }
    if (i < s.n)
      jbuf_put(c, &b, s.p + i, 1);
    ++i;
  }
  return jv_str(jbuf_str(&b));
}

static jvalue split(jctx *c, int line, jstr s, const jvalue *sep) {
  jvalue out = jv_list(c);
  if (!sep || sep->t == JV_NONE) { /* runs of whitespace, none at the ends */
    size_t i = 0;
    for (;;) {
      while (i < s.n && is_space(s.p[i]))
        ++i;
      if (i >= s.n)
        return out;
      size_t j = i;
      while (j < s.n && !is_space(s.p[j]))
        ++j;
      jstr w = {s.p + i, j - i};
      jlist_push(c, out.u.l, jv_str(w));
      i = j;
    }
  }
  if (sep->t != JV_STR || sep->u.s.n == 0)
    jfail(c, line, "split() needs a non-empty string separator");
  jstr d = sep->u.s;
  size_t start = 0;
  for (size_t i = 0; i + d.n <= s.n;) {
    if (memcmp(s.p + i, d.p, d.n) == 0) {
      jstr w = {s.p + start, i - start};
      jlist_push(c, out.u.l, jv_str(w));
      i += d.n, start = i;
    } else {
      ++i;
    }
  }
  jstr w = {s.p + start, s.n - start};
  jlist_push(c, out.u.l, jv_str(w));
  return out;
}

/* ---- argument helpers ---- */

static const jvalue *argument(const jvalue *args, size_t nargs, size_t index, const jstr *kwnames,
                              const jvalue *kwvals, size_t nkw, const char *name) {
  for (size_t i = 0; i < nkw; ++i)
    if (jstr_eq(kwnames[i], name))
      return &kwvals[i];
  return index < nargs ? &args[index] : NULL;
}

static jstr string_arg(jctx *c, int line, const jvalue *v, const char *what) {
  if (!v || v->t != JV_STR)
    jfail(c, line, "%s needs a string argument", what);
  return v->u.s;
}

static jvalue dict_items(jctx *c, const jdict *d) {
  jvalue out = jv_list(c);
  for (size_t i = 0; i < d->n; ++i) {
    jvalue pair = jv_list(c);
    pair.u.l->is_tuple = 1;
    jlist_push(c, pair.u.l, jv_str(d->k[i]));
    jlist_push(c, pair.u.l, d->v[i]);
    jlist_push(c, out.u.l, pair);
  }
  return out;
}

jvalue jinja_call(jctx *c, int line, jvalue fn, const jvalue *args, size_t nargs,
                  const jstr *kwnames, const jvalue *kwvals, size_t nkw) {
  if (fn.t != JV_FUNC)
    jfail(c, line, "a value of type %s cannot be called", jtype_name(fn.t));
  const jvalue *self = fn.u.fn.self;
  const jvalue *a0 = nargs > 0 ? &args[0] : NULL, *a1 = nargs > 1 ? &args[1] : NULL;
  switch (fn.u.fn.id) {
  case F_RAISE_EXCEPTION: {
    jstr msg = a0 ? jv_to_str(c, *a0) : jstr_of("");
    jfail(c, line, "the template refused the conversation: %.*s", (int)msg.n, msg.p);
  }
  case F_NAMESPACE: {
    jvalue ns = jv_dict(c);
    ns.u.d->is_namespace = 1;
    if (a0 && a0->t == JV_DICT)
      for (size_t i = 0; i < a0->u.d->n; ++i)
        jdict_set(c, ns.u.d, a0->u.d->k[i], a0->u.d->v[i]);
    for (size_t i = 0; i < nkw; ++i)
      jdict_set(c, ns.u.d, kwnames[i], kwvals[i]);
    return ns;
  }
  case F_RANGE: {
    int64_t start = 0, stop, step = 1;
    for (size_t i = 0; i < nargs; ++i)
      if (args[i].t != JV_INT)
        jfail(c, line, "range() needs integers");
    if (nargs == 1)
      stop = args[0].u.i;
    else if (nargs == 2 || nargs == 3)
      start = args[0].u.i, stop = args[1].u.i, step = nargs == 3 ? args[2].u.i : 1;
    else
      jfail(c, line, "range() takes 1 to 3 arguments");
    if (step == 0)
      jfail(c, line, "range() step cannot be zero");
    jvalue out = jv_list(c);
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
      if (out.u.l->n >= 100000)
        jfail(c, line, "range() longer than 100000 items");
      jlist_push(c, out.u.l, jv_int(i));
    }
    return out;
  }
  case F_STRFTIME_NOW: {
    jstr fmt = string_arg(c, line, a0, "strftime_now()");
    char f[128], out[256];
    if (fmt.n >= sizeof f)
      jfail(c, line, "strftime_now() format too long");
    memcpy(f, fmt.p, fmt.n);
    f[fmt.n] = 0;
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    size_t k = strftime(out, sizeof out, f, &tm);
    return jv_str(jstr_copy(c, out, k));
  }
  case M_STRIP:
  case M_LSTRIP:
  case M_RSTRIP: {
    jstr chars = a0 && a0->t == JV_STR ? a0->u.s : jstr_of("");
    int id = fn.u.fn.id;
    return jv_str(strip(self->u.s, a0 && a0->t == JV_STR ? &chars : NULL, id != M_RSTRIP,
                        id != M_LSTRIP));
  }
  case M_UPPER: return change_case(c, self->u.s, CASE_UPPER);
  case M_LOWER: return change_case(c, self->u.s, CASE_LOWER);
  case M_TITLE: return change_case(c, self->u.s, CASE_TITLE);
  case M_CAPITALIZE: return change_case(c, self->u.s, CASE_CAPITALIZE);
  case M_STARTSWITH:
  case M_ENDSWITH: {
    jstr s = self->u.s, p = string_arg(c, line, a0, "startswith()/endswith()");
    if (p.n > s.n)
      return jv_bool(0);
    return jv_bool(memcmp(fn.u.fn.id == M_STARTSWITH ? s.p : s.p + s.n - p.n, p.p, p.n) == 0);
  }
  case M_SPLIT: return split(c, line, self->u.s, a0);
  case M_REPLACE: {
    int64_t count = nargs > 2 && args[2].t == JV_INT ? args[2].u.i : -1;
    return replace(c, self->u.s, string_arg(c, line, a0, "replace()"),
                   string_arg(c, line, a1, "replace()"), count);
  }
  case M_ITEMS: return dict_items(c, self->u.d);
  case M_KEYS:
  case M_VALUES: {
    jvalue out = jv_list(c);
    for (size_t i = 0; i < self->u.d->n; ++i)
      jlist_push(c, out.u.l, fn.u.fn.id == M_KEYS ? jv_str(self->u.d->k[i]) : self->u.d->v[i]);
    return out;
  }
  case M_GET: {
    jstr key = string_arg(c, line, a0, "get()");
    jvalue *v = jdict_get(self->u.d, key);
    return v ? *v : a1 ? *a1 : jv_none();
  }
  default:
    jfail(c, line, "unknown function");
  }
}

/* ---- tests ---- */

int jinja_test(jctx *c, int line, jstr name, jvalue v, const jvalue *args, size_t nargs) {
  const jvalue *a0 = nargs ? &args[0] : NULL;
  if (jstr_eq(name, "defined"))
    return v.t != JV_UNDEF;
  if (jstr_eq(name, "undefined"))
    return v.t == JV_UNDEF;
  if (jstr_eq(name, "none"))
    return v.t == JV_NONE;
  if (jstr_eq(name, "string"))
    return v.t == JV_STR;
  if (jstr_eq(name, "number"))
    return v.t == JV_INT || v.t == JV_FLOAT || v.t == JV_BOOL;
  if (jstr_eq(name, "integer"))
    return v.t == JV_INT;
  if (jstr_eq(name, "float"))
    return v.t == JV_FLOAT;
  if (jstr_eq(name, "boolean"))
    return v.t == JV_BOOL;
  if (jstr_eq(name, "true"))
    return v.t == JV_BOOL && v.u.b;
  if (jstr_eq(name, "false"))
    return v.t == JV_BOOL && !v.u.b;
  if (jstr_eq(name, "mapping"))
    return v.t == JV_DICT;
  if (jstr_eq(name, "iterable")) /* Jinja's Undefined iterates as empty */
    return v.t == JV_STR || v.t == JV_LIST || v.t == JV_DICT || v.t == JV_UNDEF;
  if (jstr_eq(name, "sequence"))
    return v.t == JV_STR || v.t == JV_LIST || v.t == JV_DICT || v.t == JV_UNDEF;
  if (jstr_eq(name, "callable"))
    return v.t == JV_FUNC;
  if (jstr_eq(name, "equalto") || jstr_eq(name, "eq") || jstr_eq(name, "==") ||
      jstr_eq(name, "sameas")) {
    if (!a0)
      jfail(c, line, "test '%.*s' needs an argument", (int)name.n, name.p);
    return jv_equal(v, *a0);
  }
  if (jstr_eq(name, "ne") || jstr_eq(name, "!=")) {
    if (!a0)
      jfail(c, line, "test 'ne' needs an argument");
    return !jv_equal(v, *a0);
  }
  if (jstr_eq(name, "in")) {
    if (!a0)
      jfail(c, line, "test 'in' needs an argument");
    if (a0->t == JV_LIST) {
      for (size_t i = 0; i < a0->u.l->n; ++i)
        if (jv_equal(v, a0->u.l->v[i]))
          return 1;
      return 0;
    }
    if (a0->t == JV_DICT)
      return v.t == JV_STR && jdict_get(a0->u.d, v.u.s) != NULL;
    if (a0->t == JV_STR && v.t == JV_STR) {
      for (size_t i = 0; i + v.u.s.n <= a0->u.s.n; ++i)
        if (memcmp(a0->u.s.p + i, v.u.s.p, v.u.s.n) == 0)
          return 1;
      return 0;
    }
    jfail(c, line, "test 'in' needs a container");
  }
  if (jstr_eq(name, "odd") || jstr_eq(name, "even") || jstr_eq(name, "divisibleby")) {
    if (v.t != JV_INT)
      jfail(c, line, "test '%.*s' needs an integer", (int)name.n, name.p);
    if (name.p[0] == 'o')
      return (v.u.i & 1) != 0;
    if (name.p[0] == 'e')
      return (v.u.i & 1) == 0;
    if (!a0 || a0->t != JV_INT || a0->u.i == 0)
      jfail(c, line, "test 'divisibleby' needs a non-zero integer");
    return v.u.i % a0->u.i == 0;
  }
  if (jstr_eq(name, "lower") || jstr_eq(name, "upper")) {
    if (v.t != JV_STR)
      return 0;
    for (size_t i = 0; i < v.u.s.n; ++i)
      if (name.p[0] == 'l' ? (v.u.s.p[i] >= 'A' && v.u.s.p[i] <= 'Z')
                           : (v.u.s.p[i] >= 'a' && v.u.s.p[i] <= 'z'))
        return 0;
    return 1;
  }
  jfail(c, line, "unsupported Jinja test '%.*s'", (int)name.n, name.p);
}

/* ---- filters ---- */

/* obj.a.b for selectattr, map and join's attribute= (dots walk deeper). */
static jvalue attribute_path(jctx *c, int line, jvalue obj, jstr path) {
  size_t start = 0;
  for (size_t i = 0; i <= path.n; ++i)
    if (i == path.n || path.p[i] == '.') {
      jstr part = {path.p + start, i - start};
      if (obj.t == JV_UNDEF)
        return obj;
      if (obj.t == JV_DICT) {
        jvalue *v = jdict_get(obj.u.d, part);
        obj = v ? *v : jinja_attribute(c, line, obj, part);
      } else {
        obj = jinja_attribute(c, line, obj, part);
      }
      start = i + 1;
    }
  return obj;
}

static jlist *as_items(jctx *c, int line, jvalue v, const char *filter) {
  if (v.t == JV_LIST)
    return v.u.l;
  jlist *out = (jlist *)jarena_alloc(c, sizeof(jlist));
  if (v.t == JV_UNDEF)
    return out;
  if (v.t == JV_DICT) {
    for (size_t i = 0; i < v.u.d->n; ++i)
      jlist_push(c, out, jv_str(v.u.d->k[i]));
    return out;
  }
  if (v.t == JV_STR) {
    jstr_chars_into(c, v.u.s, out);
    return out;
  }
  jfail(c, line, "filter '%s' needs a sequence, not %s", filter, jtype_name(v.t));
}

/* select, reject, selectattr, rejectattr. */
static jvalue select_items(jctx *c, const jnode *n, jvalue input, const jvalue *args,
                           size_t nargs, int by_attribute, int keep) {
  jlist *items = as_items(c, n->line, input, "select");
  size_t first_test_arg = by_attribute ? 1 : 0;
  if (by_attribute && (nargs < 1 || args[0].t != JV_STR))
    jfail(c, n->line, "filter '%.*s' needs an attribute name", (int)n->name.n, n->name.p);
  const jvalue *test = nargs > first_test_arg ? &args[first_test_arg] : NULL;
  if (test && test->t != JV_STR)
    jfail(c, n->line, "filter '%.*s' needs a test name", (int)n->name.n, n->name.p);
  jvalue out = jv_list(c);
  for (size_t i = 0; i < items->n; ++i) {
    jvalue v = by_attribute ? attribute_path(c, n->line, items->v[i], args[0].u.s) : items->v[i];
    int pass = test ? jinja_test(c, n->line, test->u.s, v, args + first_test_arg + 1,
                                 nargs - first_test_arg - 1)
                    : jv_truthy(v);
    if (pass == keep)
      jlist_push(c, out.u.l, items->v[i]);
  }
  return out;
}

static jvalue to_number(jctx *c, jvalue v, int want_float, const jvalue *fallback) {
  switch (v.t) {
  case JV_INT:
  case JV_BOOL: {
    int64_t i = v.t == JV_INT ? v.u.i : v.u.b;
    return want_float ? jv_float((double)i) : jv_int(i);
  }
  case JV_FLOAT:
    if (want_float)
      return v;
    if (v.u.f >= -9.2e18 && v.u.f <= 9.2e18)
      return jv_int((int64_t)v.u.f);
    break;
  case JV_STR: {
    char buf[64];
    jstr s = strip(v.u.s, NULL, 1, 1);
    if (s.n == 0 || s.n >= sizeof buf)
      break;
    memcpy(buf, s.p, s.n);
    buf[s.n] = 0;
    char *end;
    if (want_float) {
      double f = strtod(buf, &end);
      if (*end == 0)
        return jv_float(f);
    } else {
      long long i = strtoll(buf, &end, 10);
      if (*end == 0)
        return jv_int(i);
    }
    break;
  }
  default:
    break;
  }
  (void)c;
  return fallback ? *fallback : want_float ? jv_float(0.0) : jv_int(0);
}

jvalue jinja_filter(jctx *c, const jnode *n, jvalue input, const jvalue *args, size_t nargs,
                    const jstr *kwnames, const jvalue *kwvals, size_t nkw) {
  jstr name = n->name;
  int line = n->line;
#define ARG(i, kw) argument(args, nargs, i, kwnames, kwvals, nkw, kw)
  if (jstr_eq(name, "default") || jstr_eq(name, "d")) {
    const jvalue *fallback = ARG(0, "default_value"), *boolean = ARG(1, "boolean");
    int use = input.t == JV_UNDEF || (boolean && jv_truthy(*boolean) && !jv_truthy(input));
    return use ? (fallback ? *fallback : jv_str(jstr_of(""))) : input;
  }
  if (jstr_eq(name, "safe"))
    return input;
  if (jstr_eq(name, "string"))
    return jv_str(jv_to_str(c, input));
  if (jstr_eq(name, "length") || jstr_eq(name, "count")) {
    switch (input.t) {
    case JV_UNDEF: return jv_int(0);
    case JV_STR: return jv_int((int64_t)jutf8_len(input.u.s));
    case JV_LIST: return jv_int((int64_t)input.u.l->n);
    case JV_DICT: return jv_int((int64_t)input.u.d->n);
    default: jfail(c, line, "a value of type %s has no length", jtype_name(input.t));
    }
  }
  if (jstr_eq(name, "tojson")) {
    const jvalue *indent = ARG(0, "indent");
    if (indent && indent->t != JV_INT && indent->t != JV_NONE)
      jfail(c, line, "tojson: indent must be an integer");
    int ind = indent && indent->t == JV_INT ? (int)(indent->u.i < 0 ? 0
                                                    : indent->u.i > 64 ? 64 : indent->u.i)
                                            : -1;
    jbuf b = {0};
    jv_json_into(c, &b, input, ind, 0, line);
    return jv_str(jbuf_str(&b));
  }
  if (jstr_eq(name, "items")) {
    if (input.t == JV_UNDEF)
      return jv_list(c);
    if (input.t != JV_DICT)
      jfail(c, line, "filter 'items' needs a mapping, not %s", jtype_name(input.t));
    return dict_items(c, input.u.d);
  }
  if (jstr_eq(name, "list")) { /* a fresh list: the input may be a tuple */
    jlist *items = as_items(c, line, input, "list");
    jvalue out = jv_list(c);
    for (size_t i = 0; i < items->n; ++i)
      jlist_push(c, out.u.l, items->v[i]);
    return out;
  }
  if (jstr_eq(name, "first") || jstr_eq(name, "last")) {
    jlist *items = as_items(c, line, input, "first/last");
    if (!items->n)
      return jv_undef(name);
    return items->v[name.p[0] == 'f' ? 0 : items->n - 1];
  }
  if (jstr_eq(name, "reverse")) {
    if (input.t == JV_STR) {
      jbuf b = {0};
      for (size_t i = jutf8_len(input.u.s); i > 0; --i) {
        size_t from = jutf8_offset(input.u.s, i - 1), to = jutf8_offset(input.u.s, i);
        jbuf_put(c, &b, input.u.s.p + from, to - from);
      }
      return jv_str(jbuf_str(&b));
    }
    jlist *items = as_items(c, line, input, "reverse");
    jvalue out = jv_list(c);
    for (size_t i = items->n; i > 0; --i)
      jlist_push(c, out.u.l, items->v[i - 1]);
    return out;
  }
  if (jstr_eq(name, "join")) {
    const jvalue *sep = ARG(0, "d"), *attr = ARG(1, "attribute");
    jstr d = sep ? string_arg(c, line, sep, "join") : jstr_of("");
    jlist *items = as_items(c, line, input, "join");
    jbuf b = {0};
    for (size_t i = 0; i < items->n; ++i) {
      if (i)
        jbuf_put(c, &b, d.p, d.n);
      jvalue v = attr ? attribute_path(c, line, items->v[i], string_arg(c, line, attr, "join"))
                      : items->v[i];
      jv_str_into(c, &b, v);
    }
    return jv_str(jbuf_str(&b));
  }
  if (jstr_eq(name, "select") || jstr_eq(name, "reject"))
    return select_items(c, n, input, args, nargs, 0, name.p[0] == 's');
  if (jstr_eq(name, "selectattr") || jstr_eq(name, "rejectattr"))
    return select_items(c, n, input, args, nargs, 1, name.p[0] == 's');
  if (jstr_eq(name, "map")) {
    jlist *items = as_items(c, line, input, "map");
    const jvalue *attr = ARG(99, "attribute"), *fallback = ARG(99, "default");
    jvalue out = jv_list(c);
    for (size_t i = 0; i < items->n; ++i) {
      jvalue v;
      if (attr) {
        v = attribute_path(c, line, items->v[i], string_arg(c, line, attr, "map"));
        if (v.t == JV_UNDEF && fallback)
          v = *fallback;
      } else {
        jnode inner = *n;
        inner.name = string_arg(c, line, nargs ? &args[0] : NULL, "map");
        v = jinja_filter(c, &inner, items->v[i], args + 1, nargs ? nargs - 1 : 0, NULL, NULL, 0);
      }
      jlist_push(c, out.u.l, v);
    }
    return out;
  }
  if (jstr_eq(name, "int") || jstr_eq(name, "float"))
    return to_number(c, input, name.p[0] == 'f', ARG(0, "default"));
  if (jstr_eq(name, "abs")) {
    if (input.t == JV_INT)
      return input.u.i == INT64_MIN ? (jfail(c, line, "integer overflow"), input)
                                    : jv_int(input.u.i < 0 ? -input.u.i : input.u.i);
    if (input.t == JV_FLOAT)
      return jv_float(input.u.f < 0 ? -input.u.f : input.u.f);
    jfail(c, line, "filter 'abs' needs a number");
  }
  if (input.t == JV_UNDEF)
    input = jv_str(jstr_of("")); /* the string filters below see "" */
  if (jstr_eq(name, "trim")) {
    const jvalue *chars = ARG(0, "chars");
    jstr s = jv_to_str(c, input);
    jstr set = chars && chars->t == JV_STR ? chars->u.s : jstr_of("");
    return jv_str(strip(s, chars && chars->t == JV_STR ? &set : NULL, 1, 1));
  }
  if (jstr_eq(name, "upper"))
    return change_case(c, jv_to_str(c, input), CASE_UPPER);
  if (jstr_eq(name, "lower"))
    return change_case(c, jv_to_str(c, input), CASE_LOWER);
  if (jstr_eq(name, "capitalize"))
    return change_case(c, jv_to_str(c, input), CASE_CAPITALIZE);
  if (jstr_eq(name, "title"))
    return change_case(c, jv_to_str(c, input), CASE_TITLE);
  if (jstr_eq(name, "replace")) {
    const jvalue *count = ARG(2, "count");
    return replace(c, jv_to_str(c, input), string_arg(c, line, ARG(0, "old"), "replace"),
                   string_arg(c, line, ARG(1, "new"), "replace"),
                   count && count->t == JV_INT ? count->u.i : -1);
  }
#undef ARG
  jfail(c, line, "unsupported Jinja filter '%.*s'", (int)name.n, name.p);
}
