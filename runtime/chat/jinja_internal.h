/* jinja_internal.h - the pieces of the chat-template engine (a Jinja subset
 * large enough for the chat templates models ship, rendered with the
 * settings Hugging Face's apply_chat_template uses: trim_blocks,
 * lstrip_blocks, loop controls, raise_exception, tojson as json.dumps).
 *
 *   jinja_lexer.c    template text -> tokens (whitespace control applied)
 *   jinja_parser.c   tokens -> a tree of statements and expressions
 *   jinja_eval.c     the tree + variables -> text
 *   jinja_builtins.c filters, tests, methods and global functions
 *   jinja_value.c    values, the arena they live in, str() and json
 *
 * Everything of one render lives in one arena, freed at its end; an error
 * anywhere longjmps back to the entry point with a one-line message. */
#ifndef QRT_JINJA_INTERNAL_H
#define QRT_JINJA_INTERNAL_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

typedef struct jstr {
  const char *p;
  size_t n;
} jstr;

typedef struct jarena_block jarena_block;
typedef struct jarena {
  jarena_block *head;
} jarena;

/* A growable byte buffer in the arena. */
typedef struct jbuf {
  char *p;
  size_t n, cap;
} jbuf;

typedef enum jtype {
  JV_UNDEF, /* a name or key that does not exist: prints "", is false */
  JV_NONE,
  JV_BOOL,
  JV_INT,
  JV_FLOAT,
  JV_STR,
  JV_LIST,
  JV_DICT,
  JV_FUNC /* a global function or a method bound to its value */
} jtype;

typedef struct jlist jlist;
typedef struct jdict jdict;
typedef struct jvalue jvalue;
struct jvalue {
  jtype t;
  union {
    int b;
    int64_t i;
    double f;
    jstr s; /* JV_STR; JV_UNDEF: the missing name, for messages */
    jlist *l;
    jdict *d;
    struct {
      int id;
      jvalue *self; /* NULL for a global */
    } fn;
  } u;
};
struct jlist {
  jvalue *v;
  size_t n, cap;
  int is_tuple; /* prints as (a, b); Python's tuple is never equal to a list */
};
/* Keys are strings (what JSON and chat templates use), in insertion order. */
struct jdict {
  jstr *k;
  jvalue *v;
  size_t n, cap;
  int is_namespace; /* namespace(): the only value `set x.a = ...` may change */
};

/* ---- tokens ---- */
typedef enum jtok_kind {
  JT_DATA,
  JT_VAR_BEGIN,
  JT_BLOCK_BEGIN,
  JT_END, /* }} or %} */
  JT_NAME,
  JT_STRING,
  JT_INT,
  JT_FLOAT,
  JT_OP,
  JT_EOF
} jtok_kind;
typedef struct jtoken {
  jtok_kind k;
  jstr s; /* data text, name, decoded string or operator */
  int64_t i;
  double f;
  int line;
} jtoken;

/* ---- the tree ---- */
typedef enum jnode_kind {
  /* expressions */
  JN_LIT,
  JN_NAME,
  JN_ATTR,
  JN_ITEM,
  JN_SLICE,
  JN_CALL,
  JN_FILTER,
  JN_TEST,
  JN_KWARG,
  JN_NEG,
  JN_NOT,
  JN_AND,
  JN_OR,
  JN_BINARY,
  JN_COND,
  JN_LIST,
  JN_DICT,
  /* statements */
  JN_TEXT,
  JN_OUTPUT,
  JN_IF,
  JN_FOR,
  JN_SET,
  JN_SET_BLOCK,
  JN_BREAK,
  JN_CONTINUE
} jnode_kind;

typedef struct jnode jnode;
typedef struct jnodes {
  jnode **v;
  size_t n, cap;
} jnodes;
struct jnode {
  jnode_kind kind;
  int line;
  int negated; /* JN_TEST: `is not`; JN_LIST: a tuple */
  jstr name;   /* NAME, ATTR, FILTER/TEST/KWARG name, SET target, BINARY operator */
  jstr attr;   /* SET: `ns.attr` */
  jvalue lit;
  jnode *a, *b, *c; /* operands; FOR: a iterable, b filter; SLICE: a object, b..c bounds */
  jnode *d;         /* SLICE: step */
  jnodes args;      /* call/filter/test arguments (JN_KWARG for keywords), LIST/DICT items,
                       FOR target names */
  jnodes body, orelse;
};

/* ---- one render ---- */
typedef struct jframe jframe;
typedef struct jctx {
  jarena arena;
  jmp_buf fail;
  char *err;
  size_t err_len;
  /* lexing and parsing */
  jtoken *toks;
  size_t ntoks, pos;
  /* rendering */
  jframe *frame;
  jdict *globals;
  jbuf out;
} jctx;

/* jinja_value.c */
void *jarena_alloc(jctx *c, size_t size);
void jarena_free(jarena *a);
void jfail(jctx *c, int line, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((noreturn, format(printf, 3, 4)))
#endif
    ;
jstr jstr_of(const char *s);
jstr jstr_copy(jctx *c, const char *p, size_t n);
int jstr_eq(jstr a, const char *s);
int jstr_same(jstr a, jstr b);
void jbuf_put(jctx *c, jbuf *b, const char *p, size_t n);
void jbuf_puts(jctx *c, jbuf *b, const char *s);
jstr jbuf_str(jbuf *b);
void jnodes_push(jctx *c, jnodes *l, jnode *n);

jvalue jv_undef(jstr name);
jvalue jv_none(void);
jvalue jv_bool(int b);
jvalue jv_int(int64_t i);
jvalue jv_float(double f);
jvalue jv_str(jstr s);
jvalue jv_list(jctx *c);
jvalue jv_dict(jctx *c);
void jlist_push(jctx *c, jlist *l, jvalue v);
void jdict_set(jctx *c, jdict *d, jstr key, jvalue v);
jvalue *jdict_get(const jdict *d, jstr key);
const char *jtype_name(jtype t);
int jv_truthy(jvalue v);
int jv_equal(jvalue a, jvalue b);
/* Python's str() of a value (undefined prints nothing), and its repr(). */
void jv_str_into(jctx *c, jbuf *b, jvalue v);
void jv_repr_into(jctx *c, jbuf *b, jvalue v);
jstr jv_to_str(jctx *c, jvalue v);
/* json.dumps(v, ensure_ascii=False, indent=indent) (indent < 0: none). */
void jv_json_into(jctx *c, jbuf *b, jvalue v, int indent, int depth, int line);
/* UTF-8 code points in s, and the byte offset of code point i. */
size_t jutf8_len(jstr s);
size_t jutf8_offset(jstr s, size_t i);
/* The code points of s as one-character strings (iterating a string). */
void jstr_chars_into(jctx *c, jstr s, jlist *out);

/* jinja_lexer.c: tokens into c->toks (ending with JT_EOF). */
void jinja_lex(jctx *c, const char *text, size_t n);
/* jinja_parser.c: the template's statements. */
jnodes jinja_parse(jctx *c);
/* jinja_eval.c */
jvalue jinja_eval(jctx *c, const jnode *n);
void jinja_exec(jctx *c, const jnodes *body);
jvalue jinja_lookup(jctx *c, jstr name);
/* jinja_builtins.c */
jvalue jinja_filter(jctx *c, const jnode *n, jvalue input, const jvalue *args, size_t nargs,
                    const jstr *kwnames, const jvalue *kwvals, size_t nkw);
int jinja_test(jctx *c, int line, jstr name, jvalue v, const jvalue *args, size_t nargs);
jvalue jinja_attribute(jctx *c, int line, jvalue obj, jstr name); /* obj.name */
jvalue jinja_call(jctx *c, int line, jvalue fn, const jvalue *args, size_t nargs,
                  const jstr *kwnames, const jvalue *kwvals, size_t nkw);
jvalue jinja_global(jstr name); /* raise_exception, namespace, range, ...; JV_UNDEF if none */

#endif
