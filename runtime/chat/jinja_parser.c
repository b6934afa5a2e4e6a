/* jinja_parser.c - tokens to a tree, following Jinja's own grammar and
 * precedence (jinja2/parser.py): conditional expression < or < and < not <
 * comparisons and `in` < + - < ~ < * / // % < ** < unary minus < filters
 * and tests < postfix (.attr, [item], call).
 * Statements: if/elif/else, for (tuple targets, `if` filter, else), set
 * (name, namespace attribute, block form), break, continue. Any other tag
 * is refused by name. */
#include "jinja_internal.h"

#include <string.h>

static const jtoken *peek(jctx *c) { return &c->toks[c->pos]; }
static const jtoken *next(jctx *c) {
  const jtoken *t = &c->toks[c->pos];
  if (t->k != JT_EOF)
    ++c->pos;
  return t;
}
static int is_op(const jtoken *t, const char *op) { return t->k == JT_OP && jstr_eq(t->s, op); }
static int is_name(const jtoken *t, const char *name) {
  return t->k == JT_NAME && jstr_eq(t->s, name);
}

static const char *describe(const jtoken *t) {
  switch (t->k) {
  case JT_DATA: return "text";
  case JT_VAR_BEGIN: return "'{{'";
  case JT_BLOCK_BEGIN: return "'{%'";
  case JT_END: return "the end of the tag";
  case JT_NAME: return "a name";
  case JT_STRING: return "a string";
  case JT_INT:
  case JT_FLOAT: return "a number";
  case JT_OP: return "an operator";
  case JT_EOF: return "the end of the template";
  }
  return "?";
}

static void expect_op(jctx *c, const char *op) {
  const jtoken *t = next(c);
  if (!is_op(t, op))
    jfail(c, t->line, "expected '%s', found %s", op, describe(t));
}
static jstr expect_name(jctx *c) {
  const jtoken *t = next(c);
  if (t->k != JT_NAME)
    jfail(c, t->line, "expected a name, found %s", describe(t));
  return t->s;
}
static void expect_end(jctx *c) {
  const jtoken *t = next(c);
  if (t->k != JT_END)
    jfail(c, t->line, "expected the end of the tag, found %s%s%.*s%s", describe(t),
          t->k == JT_NAME || t->k == JT_OP ? " '" : "", t->k == JT_NAME || t->k == JT_OP ? (int)t->s.n : 0,
          t->s.p ? t->s.p : "", t->k == JT_NAME || t->k == JT_OP ? "'" : "");
}

static jnode *node(jctx *c, jnode_kind kind, int line) {
  jnode *n = (jnode *)jarena_alloc(c, sizeof(jnode));
  n->kind = kind;
  n->line = line;
  return n;
}

static jnode *parse_expression(jctx *c);
static jnode *parse_or(jctx *c);
static jnode *parse_unary(jctx *c, int with_filter);

/* (args) after a call, filter or test: positional, then name=value. */
static void parse_call_args(jctx *c, jnodes *args) {
  expect_op(c, "(");
  int keywords = 0;
  while (!is_op(peek(c), ")")) {
    if (args->n)
      expect_op(c, ",");
    if (is_op(peek(c), ")"))
      break; /* a trailing comma */
    const jtoken *t = peek(c);
    if (t->k == JT_NAME && is_op(&c->toks[c->pos + 1], "=")) {
      jnode *kw = node(c, JN_KWARG, t->line);
      kw->name = t->s;
      c->pos += 2;
      kw->a = parse_expression(c);
      jnodes_push(c, args, kw);
      keywords = 1;
    } else {
      if (keywords)
        jfail(c, t->line, "a positional argument follows a keyword argument");
      jnodes_push(c, args, parse_expression(c));
    }
  }
  next(c);
}

static jnode *parse_primary(jctx *c) {
  const jtoken *t = next(c);
  jnode *n;
  switch (t->k) {
  case JT_NAME:
    if (jstr_eq(t->s, "true") || jstr_eq(t->s, "True") || jstr_eq(t->s, "false") ||
        jstr_eq(t->s, "False")) {
      n = node(c, JN_LIT, t->line);
      n->lit = jv_bool(t->s.p[0] == 't' || t->s.p[0] == 'T');
    } else if (jstr_eq(t->s, "none") || jstr_eq(t->s, "None")) {
      n = node(c, JN_LIT, t->line);
      n->lit = jv_none();
    } else {
      n = node(c, JN_NAME, t->line);
      n->name = t->s;
    }
    return n;
  case JT_STRING: { /* adjacent literals join, as in Python */
    jbuf b = {0};
    jbuf_put(c, &b, t->s.p, t->s.n);
    while (peek(c)->k == JT_STRING) {
      const jtoken *more = next(c);
      jbuf_put(c, &b, more->s.p, more->s.n);
    }
    n = node(c, JN_LIT, t->line);
    n->lit = jv_str(jbuf_str(&b));
    return n;
  }
  case JT_INT:
    n = node(c, JN_LIT, t->line);
    n->lit = jv_int(t->i);
    return n;
  case JT_FLOAT:
    n = node(c, JN_LIT, t->line);
    n->lit = jv_float(t->f);
    return n;
  case JT_OP:
    if (jstr_eq(t->s, "(")) { /* a parenthesised expression or a tuple */
      if (is_op(peek(c), ")")) {
        next(c);
        n = node(c, JN_LIST, t->line);
        n->negated = 1; /* a tuple */
        return n;
      }
      jnode *first = parse_expression(c);
      if (!is_op(peek(c), ",")) {
        expect_op(c, ")");
        return first;
      }
      n = node(c, JN_LIST, t->line);
      n->negated = 1; /* a tuple */
      jnodes_push(c, &n->args, first);
      while (is_op(peek(c), ",")) {
        next(c);
        if (is_op(peek(c), ")"))
          break;
        jnodes_push(c, &n->args, parse_expression(c));
      }
      expect_op(c, ")");
      return n;
    }
    if (jstr_eq(t->s, "[")) {
      n = node(c, JN_LIST, t->line);
      while (!is_op(peek(c), "]")) {
        if (n->args.n)
          expect_op(c, ",");
        if (is_op(peek(c), "]"))
          break;
        jnodes_push(c, &n->args, parse_expression(c));
      }
      next(c);
      return n;
    }
    if (jstr_eq(t->s, "{")) { /* keys and values alternate in args */
      n = node(c, JN_DICT, t->line);
      while (!is_op(peek(c), "}")) {
        if (n->args.n)
          expect_op(c, ",");
        if (is_op(peek(c), "}"))
          break;
        jnodes_push(c, &n->args, parse_expression(c));
        expect_op(c, ":");
        jnodes_push(c, &n->args, parse_expression(c));
      }
      next(c);
      return n;
    }
    break;
  default:
    break;
  }
  jfail(c, t->line, "unexpected %s%s%.*s%s", describe(t), t->k == JT_OP ? " '" : "",
        t->k == JT_OP ? (int)t->s.n : 0, t->k == JT_OP ? t->s.p : "", t->k == JT_OP ? "'" : "");
}

/* .name, [index], [a:b:c] and (args) after a primary. */
static jnode *parse_postfix(jctx *c, jnode *n) {
  for (;;) {
    const jtoken *t = peek(c);
    if (is_op(t, ".")) {
      next(c);
      const jtoken *name = next(c);
      jnode *a = node(c, JN_ATTR, t->line);
      a->a = n;
      if (name->k == JT_NAME) {
        a->name = name->s;
      } else if (name->k == JT_INT) { /* x.0 is x[0] */
        a->kind = JN_ITEM;
        a->b = node(c, JN_LIT, t->line);
        a->b->lit = jv_int(name->i);
      } else {
        jfail(c, t->line, "expected an attribute name after '.', found %s", describe(name));
      }
      n = a;
    } else if (is_op(t, "[")) {
      next(c);
      jnode *bounds[3] = {NULL, NULL, NULL};
      int colons = 0;
      for (;;) {
        if (is_op(peek(c), "]"))
          break;
        if (is_op(peek(c), ":")) {
          next(c);
          if (++colons > 2)
            jfail(c, t->line, "a slice has at most three parts");
          continue;
        }
        if (bounds[colons])
          jfail(c, t->line, "expected ':' or ']' in a subscript");
        bounds[colons] = parse_expression(c);
      }
      next(c);
      jnode *s;
      if (colons == 0) {
        if (!bounds[0])
          jfail(c, t->line, "empty subscript");
        s = node(c, JN_ITEM, t->line);
        s->b = bounds[0];
      } else {
        s = node(c, JN_SLICE, t->line);
        s->b = bounds[0], s->c = bounds[1], s->d = bounds[2];
      }
      s->a = n;
      n = s;
    } else if (is_op(t, "(")) {
      jnode *call = node(c, JN_CALL, t->line);
      call->a = n;
      parse_call_args(c, &call->args);
      n = call;
    } else {
      return n;
    }
  }
}

/* `| filter(args)` and `is [not] test [arg]`, left to right. */
static jnode *parse_filters(jctx *c, jnode *n) {
  for (;;) {
    const jtoken *t = peek(c);
    if (is_op(t, "|")) {
      next(c);
      jnode *f = node(c, JN_FILTER, t->line);
      f->a = n;
      f->name = expect_name(c);
      if (is_op(peek(c), "("))
        parse_call_args(c, &f->args);
      n = f;
    } else if (is_name(t, "is")) {
      next(c);
      jnode *test = node(c, JN_TEST, t->line);
      test->a = n;
      if (is_name(peek(c), "not")) {
        next(c);
        test->negated = 1;
      }
      test->name = expect_name(c);
      const jtoken *arg = peek(c);
      if (is_op(arg, "(")) {
        parse_call_args(c, &test->args);
      } else if ((arg->k == JT_NAME || arg->k == JT_STRING || arg->k == JT_INT ||
                  arg->k == JT_FLOAT || is_op(arg, "[") || is_op(arg, "{")) &&
                 !is_name(arg, "else") && !is_name(arg, "or") && !is_name(arg, "and") &&
                 !is_name(arg, "is") && !is_name(arg, "if") && !is_name(arg, "in") &&
                 !is_name(arg, "not")) {
        jnodes_push(c, &test->args, parse_postfix(c, parse_primary(c)));
      }
      n = test;
    } else {
      return n;
    }
  }
}

static jnode *parse_unary(jctx *c, int with_filter) {
  const jtoken *t = peek(c);
  jnode *n;
  if (is_op(t, "-") || is_op(t, "+")) {
    next(c);
    jnode *operand = parse_unary(c, 0);
    if (t->s.p[0] == '-') {
      n = node(c, JN_NEG, t->line);
      n->a = operand;
    } else {
      n = operand;
    }
  } else {
    n = parse_primary(c);
  }
  n = parse_postfix(c, n);
  return with_filter ? parse_filters(c, n) : n;
}

static jnode *binary(jctx *c, const jtoken *op, jnode *l, jnode *r) {
  jnode *n = node(c, JN_BINARY, op->line);
  n->name = op->s; /* "not in" and "in" are two names: see parse_compare */
  n->a = l, n->b = r;
  return n;
}

static jnode *parse_pow(jctx *c) {
  jnode *n = parse_unary(c, 1);
  while (is_op(peek(c), "**")) {
    const jtoken *op = next(c);
    n = binary(c, op, n, parse_unary(c, 1));
  }
  return n;
}
static jnode *parse_mul(jctx *c) {
  jnode *n = parse_pow(c);
  while (is_op(peek(c), "*") || is_op(peek(c), "/") || is_op(peek(c), "//") ||
         is_op(peek(c), "%")) {
    const jtoken *op = next(c);
    n = binary(c, op, n, parse_pow(c));
  }
  return n;
}
static jnode *parse_concat(jctx *c) {
  jnode *n = parse_mul(c);
  while (is_op(peek(c), "~")) {
    const jtoken *op = next(c);
    n = binary(c, op, n, parse_mul(c));
  }
  return n;
}
static jnode *parse_add(jctx *c) {
  jnode *n = parse_concat(c);
  while (is_op(peek(c), "+") || is_op(peek(c), "-")) {
    const jtoken *op = next(c);
    n = binary(c, op, n, parse_concat(c));
  }
  return n;
}
static jnode *parse_compare(jctx *c) {
  jnode *n = parse_add(c);
  for (;;) {
    const jtoken *t = peek(c);
    if (is_op(t, "==") || is_op(t, "!=") || is_op(t, "<") || is_op(t, ">") || is_op(t, "<=") ||
        is_op(t, ">=")) {
      next(c);
      n = binary(c, t, n, parse_add(c));
    } else if (is_name(t, "in") ||
               (is_name(t, "not") && is_name(&c->toks[c->pos + 1], "in"))) {
      int negated = is_name(t, "not");
      c->pos += negated ? 2 : 1;
      jtoken op = {JT_OP, {negated ? "not in" : "in", negated ? 6u : 2u}, 0, 0, t->line};
      n = binary(c, &op, n, parse_add(c));
    } else {
      return n;
    }
  }
}
static jnode *parse_not(jctx *c) {
  if (is_name(peek(c), "not")) {
    const jtoken *t = next(c);
    jnode *n = node(c, JN_NOT, t->line);
    n->a = parse_not(c);
    return n;
  }
  return parse_compare(c);
}
static jnode *parse_and(jctx *c) {
  jnode *n = parse_not(c);
  while (is_name(peek(c), "and")) {
    const jtoken *t = next(c);
    jnode *a = node(c, JN_AND, t->line);
    a->a = n, a->b = parse_not(c);
    n = a;
  }
  return n;
}
static jnode *parse_or(jctx *c) {
  jnode *n = parse_and(c);
  while (is_name(peek(c), "or")) {
    const jtoken *t = next(c);
    jnode *o = node(c, JN_OR, t->line);
    o->a = n, o->b = parse_and(c);
    n = o;
  }
  return n;
}
/* a if cond [else b] */
static jnode *parse_expression(jctx *c) {
  jnode *n = parse_or(c);
  while (is_name(peek(c), "if")) {
    const jtoken *t = next(c);
    jnode *cond = node(c, JN_COND, t->line);
    cond->a = parse_or(c);
    cond->b = n;
    if (is_name(peek(c), "else")) {
      next(c);
      cond->c = parse_expression(c);
    }
    n = cond;
  }
  return n;
}

/* ---- statements ---- */

static jnodes parse_body(jctx *c, const char *const *stops, jstr *stopped);

static int is_stop(const jtoken *t, const char *const *stops) {
  for (; stops && *stops; ++stops)
    if (is_name(t, *stops))
      return 1;
  return 0;
}

static jnode *parse_if(jctx *c, int line) {
  static const char *const stops[] = {"elif", "else", "endif", NULL};
  jnode *n = node(c, JN_IF, line);
  n->a = parse_expression(c);
  expect_end(c);
  jstr stopped;
  n->body = parse_body(c, stops, &stopped);
  if (jstr_eq(stopped, "elif")) {
    jnode *elif = parse_if(c, peek(c)->line);
    jnodes_push(c, &n->orelse, elif);
    return n; /* the nested if consumed endif */
  }
  if (jstr_eq(stopped, "else")) {
    static const char *const end[] = {"endif", NULL};
    expect_end(c);
    n->orelse = parse_body(c, end, &stopped);
  }
  expect_end(c);
  return n;
}

static jnode *parse_for(jctx *c, int line) {
  static const char *const stops[] = {"else", "endfor", NULL};
  jnode *n = node(c, JN_FOR, line);
  do {
    jnode *target = node(c, JN_NAME, peek(c)->line);
    target->name = expect_name(c);
    jnodes_push(c, &n->args, target);
  } while (is_op(peek(c), ",") && next(c));
  if (!is_name(next(c), "in"))
    jfail(c, line, "expected 'in' in a for loop");
  n->a = parse_or(c); /* not parse_expression: a trailing `if` filters */
  if (is_name(peek(c), "if")) {
    next(c);
    n->b = parse_expression(c);
  }
  if (is_name(peek(c), "recursive"))
    jfail(c, line, "unsupported Jinja construct 'recursive' loop");
  expect_end(c);
  jstr stopped;
  n->body = parse_body(c, stops, &stopped);
  if (jstr_eq(stopped, "else")) {
    static const char *const end[] = {"endfor", NULL};
    expect_end(c);
    n->orelse = parse_body(c, end, &stopped);
  }
  expect_end(c);
  return n;
}

static jnode *parse_set(jctx *c, int line) {
  jnode *n = node(c, JN_SET, line);
  n->name = expect_name(c);
  if (is_op(peek(c), ".")) {
    next(c);
    n->attr = expect_name(c);
  }
  if (is_op(peek(c), ",")) /* set a, b = ... */
    jfail(c, line, "unsupported Jinja construct 'set' of several names");
  if (peek(c)->k == JT_END && !n->attr.p) { /* {% set x %}...{% endset %} */
    static const char *const end[] = {"endset", NULL};
    next(c);
    n->kind = JN_SET_BLOCK;
    jstr stopped;
    n->body = parse_body(c, end, &stopped);
    expect_end(c);
    return n;
  }
  expect_op(c, "=");
  n->a = parse_expression(c);
  expect_end(c);
  return n;
}

/* Statements up to one of `stops` (whose name is consumed and returned in
 * *stopped), or to the end of the template when stops is NULL. */
static jnodes parse_body(jctx *c, const char *const *stops, jstr *stopped) {
  jnodes body = {0};
  for (;;) {
    const jtoken *t = next(c);
    switch (t->k) {
    case JT_EOF:
      if (stops)
        jfail(c, t->line, "the template ends inside a block: expected '%s'", stops[0]);
      return body;
    case JT_DATA: {
      jnode *n = node(c, JN_TEXT, t->line);
      n->name = t->s;
      jnodes_push(c, &body, n);
      break;
    }
    case JT_VAR_BEGIN: {
      jnode *n = node(c, JN_OUTPUT, t->line);
      n->a = parse_expression(c);
      expect_end(c);
      jnodes_push(c, &body, n);
      break;
    }
    case JT_BLOCK_BEGIN: {
      const jtoken *kw = peek(c);
      if (kw->k != JT_NAME)
        jfail(c, kw->line, "expected a statement name after '{%%', found %s", describe(kw));
      if (is_stop(kw, stops)) {
        next(c);
        *stopped = kw->s;
        return body;
      }
      next(c);
      jnode *n;
      if (jstr_eq(kw->s, "if")) {
        n = parse_if(c, kw->line);
      } else if (jstr_eq(kw->s, "for")) {
        n = parse_for(c, kw->line);
      } else if (jstr_eq(kw->s, "set")) {
        n = parse_set(c, kw->line);
      } else if (jstr_eq(kw->s, "break") || jstr_eq(kw->s, "continue")) {
        n = node(c, kw->s.p[0] == 'b' ? JN_BREAK : JN_CONTINUE, kw->line);
        expect_end(c);
      } else if (jstr_eq(kw->s, "elif") || jstr_eq(kw->s, "else") ||
                 (kw->s.n > 3 && memcmp(kw->s.p, "end", 3) == 0)) {
        jfail(c, kw->line, "'%.*s' without a block it closes", (int)kw->s.n, kw->s.p);
      } else {
        jfail(c, kw->line, "unsupported Jinja construct '%.*s'", (int)kw->s.n, kw->s.p);
      }
      jnodes_push(c, &body, n);
      break;
    }
    default:
      jfail(c, t->line, "unexpected %s", describe(t));
    }
  }
}

jnodes jinja_parse(jctx *c) {
  jstr stopped;
  c->pos = 0;
  return parse_body(c, NULL, &stopped);
}
