/* jinja_eval.c - runs the tree: expressions to values with Python's
 * semantics (Hugging Face renders in Python), statements to text.
 * Scopes as in Jinja: a for loop's body has its own variables, kept across
 * its iterations and dropped after it (which is why templates use
 * namespace() to carry a value out); if blocks share their enclosing scope. */
#include "jinja_internal.h"

#include <math.h>
#include <string.h>

struct jframe {
  jdict *vars;
  jframe *parent;
};

typedef enum flow { FLOW_NORMAL, FLOW_BREAK, FLOW_CONTINUE } flow;

jvalue jinja_lookup(jctx *c, jstr name) {
  for (jframe *f = c->frame; f; f = f->parent) {
    jvalue *v = jdict_get(f->vars, name);
    if (v)
      return *v;
  }
  jvalue *v = jdict_get(c->globals, name);
  if (v)
    return *v;
  return jinja_global(name);
}

static int is_number(jvalue v) { return v.t == JV_BOOL || v.t == JV_INT || v.t == JV_FLOAT; }
static int is_integral(jvalue v) { return v.t == JV_BOOL || v.t == JV_INT; }
static int64_t int_of(jvalue v) { return v.t == JV_INT ? v.u.i : v.u.b; }
static double float_of(jvalue v) { return v.t == JV_FLOAT ? v.u.f : (double)int_of(v); }

static void require_defined(jctx *c, int line, jvalue v) {
  if (v.t == JV_UNDEF)
    jfail(c, line, "'%.*s' is undefined", (int)v.u.s.n, v.u.s.p);
}

static void type_error(jctx *c, int line, jstr op, jvalue a, jvalue b) {
  require_defined(c, line, a);
  require_defined(c, line, b);
  jfail(c, line, "unsupported operand types for %.*s: %s and %s", (int)op.n, op.p,
        jtype_name(a.t), jtype_name(b.t));
}

/* x[i] on a list or string with Python's negative indices. */
static int normalize_index(int64_t i, size_t n, size_t *out) {
  if (i < 0)
    i += (int64_t)n;
  if (i < 0 || (uint64_t)i >= n)
    return 0;
  *out = (size_t)i;
  return 1;
}

static jvalue item(jctx *c, int line, jvalue obj, jvalue key) {
  if (obj.t == JV_DICT) {
    if (key.t == JV_STR) {
      jvalue *v = jdict_get(obj.u.d, key.u.s);
      if (v)
        return *v;
      return jinja_attribute(c, line, obj, key.u.s); /* methods, then undefined */
    }
    return jv_undef(jstr_of("item"));
  }
  if ((obj.t == JV_LIST || obj.t == JV_STR) && is_integral(key)) {
    size_t n = obj.t == JV_LIST ? obj.u.l->n : jutf8_len(obj.u.s), at;
    if (!normalize_index(int_of(key), n, &at))
      return jv_undef(jstr_of("index"));
    if (obj.t == JV_LIST)
      return obj.u.l->v[at];
    size_t from = jutf8_offset(obj.u.s, at), to = jutf8_offset(obj.u.s, at + 1);
    jstr s = {obj.u.s.p + from, to - from};
    return jv_str(s);
  }
  if (key.t == JV_STR)
    return jinja_attribute(c, line, obj, key.u.s);
  require_defined(c, line, obj);
  return jv_undef(jstr_of("item"));
}

/* Python's slice semantics on lists and strings (by code point). */
static jvalue slice(jctx *c, const jnode *n) {
  jvalue obj = jinja_eval(c, n->a);
  require_defined(c, n->line, obj);
  if (obj.t != JV_LIST && obj.t != JV_STR)
    jfail(c, n->line, "cannot slice a value of type %s", jtype_name(obj.t));
  int64_t len = (int64_t)(obj.t == JV_LIST ? obj.u.l->n : jutf8_len(obj.u.s));
  int64_t bound[3];
  int given[3];
  const jnode *parts[3] = {n->b, n->c, n->d};
  for (int k = 0; k < 3; ++k) {
    given[k] = 0;
    if (!parts[k])
      continue;
    jvalue v = jinja_eval(c, parts[k]);
    if (v.t == JV_NONE)
      continue;
    if (!is_integral(v))
      jfail(c, n->line, "slice bounds must be integers");
    bound[k] = int_of(v), given[k] = 1;
  }
  int64_t step = given[2] ? bound[2] : 1;
  if (step == 0)
    jfail(c, n->line, "slice step cannot be zero");
  int64_t start, stop;
  for (int k = 0; k < 2; ++k) {
    int64_t *out = k == 0 ? &start : &stop;
    if (!given[k]) {
      *out = k == 0 ? (step > 0 ? 0 : len - 1) : (step > 0 ? len : -1);
      continue;
    }
    int64_t b = bound[k];
    if (b < 0)
      b += len;
    if (step > 0)
      b = b < 0 ? 0 : b > len ? len : b;
    else
      b = b < -1 ? -1 : b > len - 1 ? len - 1 : b;
    *out = b;
  }
  jvalue out = obj.t == JV_LIST ? jv_list(c) : jv_str(jstr_of(""));
  jbuf b = {0};
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
    if (obj.t == JV_LIST) {
      jlist_push(c, out.u.l, obj.u.l->v[i]);
    } else {
      size_t from = jutf8_offset(obj.u.s, (size_t)i), to = jutf8_offset(obj.u.s, (size_t)i + 1);
      jbuf_put(c, &b, obj.u.s.p + from, to - from);
    }
  }
  if (obj.t == JV_STR)
    out = jv_str(jbuf_str(&b));
  return out;
}

static int contains(jctx *c, int line, jvalue needle, jvalue hay) {
  switch (hay.t) {
  case JV_UNDEF:
    return 0;
  case JV_STR:
    if (needle.t != JV_STR)
      jfail(c, line, "'in <string>' needs a string on the left, not %s", jtype_name(needle.t));
    if (needle.u.s.n == 0)
      return 1;
    for (size_t i = 0; i + needle.u.s.n <= hay.u.s.n; ++i)
      if (memcmp(hay.u.s.p + i, needle.u.s.p, needle.u.s.n) == 0)
        return 1;
    return 0;
  case JV_LIST:
    for (size_t i = 0; i < hay.u.l->n; ++i)
      if (jv_equal(needle, hay.u.l->v[i]))
        return 1;
    return 0;
  case JV_DICT:
    return needle.t == JV_STR && jdict_get(hay.u.d, needle.u.s) != NULL;
  default:
    jfail(c, line, "a value of type %s is not a container for 'in'", jtype_name(hay.t));
  }
}

static int compare(jctx *c, int line, jstr op, jvalue a, jvalue b) {
  if (jstr_eq(op, "=="))
    return jv_equal(a, b);
  if (jstr_eq(op, "!="))
    return !jv_equal(a, b);
  int order;
  if (is_number(a) && is_number(b)) {
    double x = float_of(a), y = float_of(b);
    if (is_integral(a) && is_integral(b))
      order = int_of(a) < int_of(b) ? -1 : int_of(a) > int_of(b);
    else if (x != x || y != y)
      return 0;
    else
      order = x < y ? -1 : x > y;
  } else if (a.t == JV_STR && b.t == JV_STR) { /* UTF-8 bytes order as code points do */
    size_t n = a.u.s.n < b.u.s.n ? a.u.s.n : b.u.s.n;
    int r = memcmp(a.u.s.p, b.u.s.p, n);
    order = r ? (r < 0 ? -1 : 1) : a.u.s.n < b.u.s.n ? -1 : a.u.s.n > b.u.s.n;
  } else {
    type_error(c, line, op, a, b);
  }
  if (jstr_eq(op, "<"))
    return order < 0;
  if (jstr_eq(op, "<="))
    return order <= 0;
  if (jstr_eq(op, ">"))
    return order > 0;
  return order >= 0;
}

static jvalue arithmetic(jctx *c, const jnode *n, jvalue a, jvalue b) {
  jstr op = n->name;
  int line = n->line;
  if (jstr_eq(op, "~")) {
    jbuf buf = {0};
    jv_str_into(c, &buf, a);
    jv_str_into(c, &buf, b);
    return jv_str(jbuf_str(&buf));
  }
  if (jstr_eq(op, "+")) {
    if ((a.t == JV_STR && b.t == JV_STR) || (a.t == JV_LIST && b.t == JV_LIST)) {
      if (a.t == JV_STR) {
        jbuf buf = {0};
        jbuf_put(c, &buf, a.u.s.p, a.u.s.n);
        jbuf_put(c, &buf, b.u.s.p, b.u.s.n);
        return jv_str(jbuf_str(&buf));
      }
      jvalue l = jv_list(c);
      for (size_t i = 0; i < a.u.l->n; ++i)
        jlist_push(c, l.u.l, a.u.l->v[i]);
      for (size_t i = 0; i < b.u.l->n; ++i)
        jlist_push(c, l.u.l, b.u.l->v[i]);
      return l;
    }
  }
  if (jstr_eq(op, "*") && ((a.t == JV_STR && is_integral(b)) || (is_integral(a) && b.t == JV_STR))) {
    jstr s = a.t == JV_STR ? a.u.s : b.u.s;
    int64_t times = a.t == JV_STR ? int_of(b) : int_of(a);
    if (times > 0 && s.n && (uint64_t)times > (1u << 24) / s.n)
      jfail(c, line, "string repetition too large");
    jbuf buf = {0};
    for (int64_t i = 0; i < times; ++i)
      jbuf_put(c, &buf, s.p, s.n);
    return jv_str(jbuf_str(&buf));
  }
  if (!is_number(a) || !is_number(b))
    type_error(c, line, op, a, b);
  int ints = is_integral(a) && is_integral(b);
  int64_t x = ints ? int_of(a) : 0, y = ints ? int_of(b) : 0, r;
  double fx = float_of(a), fy = float_of(b);
  if (jstr_eq(op, "+") || jstr_eq(op, "-") || jstr_eq(op, "*")) {
    char o = op.p[0];
    if (!ints)
      return jv_float(o == '+' ? fx + fy : o == '-' ? fx - fy : fx * fy);
    int overflow = o == '+'   ? __builtin_add_overflow(x, y, &r)
                   : o == '-' ? __builtin_sub_overflow(x, y, &r)
                              : __builtin_mul_overflow(x, y, &r);
    if (overflow)
      jfail(c, line, "integer overflow");
    return jv_int(r);
  }
  if (jstr_eq(op, "/")) {
    if (fy == 0.0)
      jfail(c, line, "division by zero");
    return jv_float(fx / fy);
  }
  if (jstr_eq(op, "//") || jstr_eq(op, "%")) {
    if (ints ? y == 0 : fy == 0.0)
      jfail(c, line, "%s by zero", op.p[0] == '%' ? "modulo" : "division");
    if (ints) {
      if (x == INT64_MIN && y == -1)
        jfail(c, line, "integer overflow");
      int64_t q = x / y, m = x % y;
      if (m != 0 && ((m < 0) != (y < 0))) /* Python floors */
        --q, m += y;
      return jv_int(op.p[0] == '%' ? m : q);
    }
    double q = floor(fx / fy), m = fx - q * fy;
    return jv_float(op.p[0] == '%' ? m : q);
  }
  if (jstr_eq(op, "**")) {
    if (ints && y >= 0) {
      int64_t acc = 1;
      for (int64_t i = 0; i < y; ++i)
        if (__builtin_mul_overflow(acc, x, &acc))
          jfail(c, line, "integer overflow");
      return jv_int(acc);
    }
    return jv_float(pow(fx, fy));
  }
  jfail(c, line, "unknown operator '%.*s'", (int)op.n, op.p);
}

/* Evaluated arguments of a call, filter or test. */
typedef struct call_args {
  jvalue *pos;
  size_t npos;
  jstr *names;
  jvalue *kw;
  size_t nkw;
} call_args;

static call_args eval_args(jctx *c, const jnodes *args) {
  call_args r = {0};
  r.pos = (jvalue *)jarena_alloc(c, (args->n + 1) * sizeof(jvalue));
  r.names = (jstr *)jarena_alloc(c, (args->n + 1) * sizeof(jstr));
  r.kw = (jvalue *)jarena_alloc(c, (args->n + 1) * sizeof(jvalue));
  for (size_t i = 0; i < args->n; ++i) {
    const jnode *a = args->v[i];
    if (a->kind == JN_KWARG) {
      r.names[r.nkw] = a->name;
      r.kw[r.nkw++] = jinja_eval(c, a->a);
    } else {
      r.pos[r.npos++] = jinja_eval(c, a);
    }
  }
  return r;
}

jvalue jinja_eval(jctx *c, const jnode *n) {
  switch (n->kind) {
  case JN_LIT:
    return n->lit;
  case JN_NAME:
    return jinja_lookup(c, n->name);
  case JN_ATTR: {
    jvalue obj = jinja_eval(c, n->a);
    require_defined(c, n->line, obj);
    return jinja_attribute(c, n->line, obj, n->name);
  }
  case JN_ITEM: {
    jvalue obj = jinja_eval(c, n->a);
    require_defined(c, n->line, obj);
    return item(c, n->line, obj, jinja_eval(c, n->b));
  }
  case JN_SLICE:
    return slice(c, n);
  case JN_CALL: {
    jvalue fn = jinja_eval(c, n->a);
    require_defined(c, n->line, fn);
    call_args a = eval_args(c, &n->args);
    return jinja_call(c, n->line, fn, a.pos, a.npos, a.names, a.kw, a.nkw);
  }
  case JN_FILTER: {
    jvalue input = jinja_eval(c, n->a);
    call_args a = eval_args(c, &n->args);
    return jinja_filter(c, n, input, a.pos, a.npos, a.names, a.kw, a.nkw);
  }
  case JN_TEST: {
    jvalue v = jinja_eval(c, n->a);
    call_args a = eval_args(c, &n->args);
    int r = jinja_test(c, n->line, n->name, v, a.pos, a.npos);
    return jv_bool(n->negated ? !r : r);
  }
  case JN_NEG: {
    jvalue v = jinja_eval(c, n->a);
    if (is_integral(v)) {
      if (int_of(v) == INT64_MIN)
        jfail(c, n->line, "integer overflow");
      return jv_int(-int_of(v));
    }
    if (v.t == JV_FLOAT)
      return jv_float(-v.u.f);
    require_defined(c, n->line, v);
    jfail(c, n->line, "bad operand type for unary -: %s", jtype_name(v.t));
  }
  case JN_NOT:
    return jv_bool(!jv_truthy(jinja_eval(c, n->a)));
  case JN_AND: {
    jvalue l = jinja_eval(c, n->a);
    return jv_truthy(l) ? jinja_eval(c, n->b) : l;
  }
  case JN_OR: {
    jvalue l = jinja_eval(c, n->a);
    return jv_truthy(l) ? l : jinja_eval(c, n->b);
  }
  case JN_BINARY: {
    jvalue a = jinja_eval(c, n->a), b = jinja_eval(c, n->b);
    if (jstr_eq(n->name, "in") || jstr_eq(n->name, "not in")) {
      int r = contains(c, n->line, a, b);
      return jv_bool(n->name.n == 2 ? r : !r);
    }
    if (n->name.n <= 2 && (n->name.p[0] == '=' || n->name.p[0] == '!' || n->name.p[0] == '<' ||
                           n->name.p[0] == '>'))
      return jv_bool(compare(c, n->line, n->name, a, b));
    return arithmetic(c, n, a, b);
  }
  case JN_COND:
    if (jv_truthy(jinja_eval(c, n->a)))
      return jinja_eval(c, n->b);
    return n->c ? jinja_eval(c, n->c) : jv_undef(jstr_of("else"));
  case JN_LIST: {
    jvalue l = jv_list(c);
    l.u.l->is_tuple = n->negated;
    for (size_t i = 0; i < n->args.n; ++i)
      jlist_push(c, l.u.l, jinja_eval(c, n->args.v[i]));
    return l;
  }
  case JN_DICT: {
    jvalue d = jv_dict(c);
    for (size_t i = 0; i + 1 < n->args.n; i += 2) {
      jvalue k = jinja_eval(c, n->args.v[i]);
      if (k.t != JV_STR)
        jfail(c, n->line, "dictionary keys must be strings here, not %s", jtype_name(k.t));
      jdict_set(c, d.u.d, k.u.s, jinja_eval(c, n->args.v[i + 1]));
    }
    return d;
  }
  default:
    jfail(c, n->line, "a statement where an expression was expected");
  }
}

/* ---- statements ---- */

static void assign(jctx *c, jstr name, jvalue v) {
  jdict *vars = c->frame ? c->frame->vars : c->globals;
  jdict_set(c, vars, name, v);
}

/* The items a for loop walks: a list, a dict's keys, a string's
 * characters; undefined walks nothing (Jinja's Undefined is empty). */
static jlist *iteration_items(jctx *c, int line, jvalue v) {
  jlist *items = (jlist *)jarena_alloc(c, sizeof(jlist));
  switch (v.t) {
  case JV_UNDEF:
    return items;
  case JV_LIST:
    return v.u.l;
  case JV_DICT:
    for (size_t i = 0; i < v.u.d->n; ++i)
      jlist_push(c, items, jv_str(v.u.d->k[i]));
    return items;
  case JV_STR:
    jstr_chars_into(c, v.u.s, items);
    return items;
  default:
    jfail(c, line, "a value of type %s is not iterable", jtype_name(v.t));
  }
}

static void bind_targets(jctx *c, const jnode *loop, jvalue v) {
  const jnodes *targets = &loop->args;
  if (targets->n == 1) {
    assign(c, targets->v[0]->name, v);
    return;
  }
  if (v.t != JV_LIST || v.u.l->n != targets->n)
    jfail(c, loop->line, "cannot unpack %s into %zu names", jtype_name(v.t), targets->n);
  for (size_t i = 0; i < targets->n; ++i)
    assign(c, targets->v[i]->name, v.u.l->v[i]);
}

static flow exec_body(jctx *c, const jnodes *body);

static void exec_for(jctx *c, const jnode *n) {
  jlist *all = iteration_items(c, n->line, jinja_eval(c, n->a));
  jframe frame = {(jdict *)jarena_alloc(c, sizeof(jdict)), c->frame};
  c->frame = &frame;
  jlist *items = all;
  if (n->b) { /* `for x in xs if cond`: the loop counts only what passes */
    items = (jlist *)jarena_alloc(c, sizeof(jlist));
    for (size_t i = 0; i < all->n; ++i) {
      bind_targets(c, n, all->v[i]);
      if (jv_truthy(jinja_eval(c, n->b)))
        jlist_push(c, items, all->v[i]);
    }
  }
  jvalue loop = jv_dict(c);
  size_t len = items->n;
  for (size_t i = 0; i < len; ++i) {
    jdict *d = loop.u.d;
    jdict_set(c, d, jstr_of("index0"), jv_int((int64_t)i));
    jdict_set(c, d, jstr_of("index"), jv_int((int64_t)i + 1));
    jdict_set(c, d, jstr_of("revindex0"), jv_int((int64_t)(len - 1 - i)));
    jdict_set(c, d, jstr_of("revindex"), jv_int((int64_t)(len - i)));
    jdict_set(c, d, jstr_of("first"), jv_bool(i == 0));
    jdict_set(c, d, jstr_of("last"), jv_bool(i + 1 == len));
    jdict_set(c, d, jstr_of("length"), jv_int((int64_t)len));
    jdict_set(c, d, jstr_of("depth"), jv_int(1));
    jdict_set(c, d, jstr_of("depth0"), jv_int(0));
    jdict_set(c, d, jstr_of("previtem"), i ? items->v[i - 1] : jv_undef(jstr_of("previtem")));
    jdict_set(c, d, jstr_of("nextitem"),
              i + 1 < len ? items->v[i + 1] : jv_undef(jstr_of("nextitem")));
    assign(c, jstr_of("loop"), loop);
    bind_targets(c, n, items->v[i]);
    if (exec_body(c, &n->body) == FLOW_BREAK)
      break;
  }
  if (len == 0)
    exec_body(c, &n->orelse);
  c->frame = frame.parent;
}

static void exec_set(jctx *c, const jnode *n) {
  jvalue v;
  if (n->kind == JN_SET_BLOCK) {
    jbuf saved = c->out;
    c->out.p = NULL, c->out.n = c->out.cap = 0;
    exec_body(c, &n->body);
    v = jv_str(jbuf_str(&c->out));
    c->out = saved;
  } else {
    v = jinja_eval(c, n->a);
  }
  if (!n->attr.p) {
    assign(c, n->name, v);
    return;
  }
  jvalue ns = jinja_lookup(c, n->name);
  if (ns.t != JV_DICT || !ns.u.d->is_namespace)
    jfail(c, n->line, "cannot set '%.*s.%.*s': '%.*s' is not a namespace()", (int)n->name.n,
          n->name.p, (int)n->attr.n, n->attr.p, (int)n->name.n, n->name.p);
  jdict_set(c, ns.u.d, n->attr, v);
}

static flow exec_body(jctx *c, const jnodes *body) {
  for (size_t i = 0; i < body->n; ++i) {
    const jnode *n = body->v[i];
    switch (n->kind) {
    case JN_TEXT:
      jbuf_put(c, &c->out, n->name.p, n->name.n);
      break;
    case JN_OUTPUT:
      jv_str_into(c, &c->out, jinja_eval(c, n->a));
      break;
    case JN_IF: {
      flow f = exec_body(c, jv_truthy(jinja_eval(c, n->a)) ? &n->body : &n->orelse);
      if (f != FLOW_NORMAL)
        return f;
      break;
    }
    case JN_FOR:
      exec_for(c, n);
      break;
    case JN_SET:
    case JN_SET_BLOCK:
      exec_set(c, n);
      break;
    case JN_BREAK:
      return FLOW_BREAK;
    case JN_CONTINUE:
      return FLOW_CONTINUE;
    default:
      jfail(c, n->line, "an expression where a statement was expected");
    }
  }
  return FLOW_NORMAL;
}

void jinja_exec(jctx *c, const jnodes *body) { exec_body(c, body); }
