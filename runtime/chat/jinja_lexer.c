/* jinja_lexer.c - template text to tokens, with Jinja's whitespace control
 * as Hugging Face configures it:
 *   {%- / {{- / {#-   strip all whitespace before the tag;
 *   -%} / -}} / -#}   strip all whitespace after it;
 *   trim_blocks       the first newline after %} or #} goes;
 *   lstrip_blocks     spaces and tabs from the start of a line up to {% or {#
 *                     go ({%+ keeps them).
 * Comments leave no token. Tag contents become name, number, string and
 * operator tokens, so a string may hold "%}". */
#include "jinja_internal.h"

#include <stdlib.h>
#include <string.h>

static int is_space(char ch) {
  return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}
static int is_name_start(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
}
static int is_digit(char ch) { return ch >= '0' && ch <= '9'; }

typedef struct lexer {
  jctx *c;
  const char *s;
  size_t n, pos;
  int line;
  size_t cap;
} lexer;

static jtoken *push(lexer *L, jtok_kind k) {
  jctx *c = L->c;
  if (c->ntoks == L->cap) {
    size_t cap = L->cap ? 2 * L->cap : 256;
    jtoken *t = (jtoken *)jarena_alloc(c, cap * sizeof *t);
    if (c->ntoks)
      memcpy(t, c->toks, c->ntoks * sizeof *t);
    c->toks = t, L->cap = cap;
  }
  jtoken *t = &c->toks[c->ntoks++];
  memset(t, 0, sizeof *t);
  t->k = k;
  t->line = L->line;
  return t;
}

static void advance(lexer *L, size_t to) {
  for (; L->pos < to; ++L->pos)
    L->line += L->s[L->pos] == '\n';
}

static int starts(const lexer *L, size_t at, const char *what) {
  size_t k = strlen(what);
  return at + k <= L->n && memcmp(L->s + at, what, k) == 0;
}

static void put_utf8(jctx *c, jbuf *b, unsigned long cp) {
  char u[4];
  size_t k;
  if (cp < 0x80)
    u[0] = (char)cp, k = 1;
  else if (cp < 0x800)
    u[0] = (char)(0xC0 | (cp >> 6)), u[1] = (char)(0x80 | (cp & 0x3F)), k = 2;
  else if (cp < 0x10000)
    u[0] = (char)(0xE0 | (cp >> 12)), u[1] = (char)(0x80 | ((cp >> 6) & 0x3F)),
    u[2] = (char)(0x80 | (cp & 0x3F)), k = 3;
  else
    u[0] = (char)(0xF0 | (cp >> 18)), u[1] = (char)(0x80 | ((cp >> 12) & 0x3F)),
    u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), u[3] = (char)(0x80 | (cp & 0x3F)), k = 4;
  jbuf_put(c, b, u, k);
}

/* A quoted string with Python's escapes (Jinja decodes them the same way). */
static void lex_string(lexer *L) {
  jctx *c = L->c;
  char quote = L->s[L->pos];
  int line = L->line;
  size_t i = L->pos + 1;
  jbuf b = {0};
  for (;;) {
    if (i >= L->n)
      jfail(c, line, "unterminated string");
    char ch = L->s[i];
    if (ch == quote)
      break;
    if (ch != '\\') {
      jbuf_put(c, &b, &ch, 1);
      ++i;
      continue;
    }
    if (i + 1 >= L->n)
      jfail(c, line, "unterminated string");
    char e = L->s[i + 1];
    i += 2;
    const char *simple = NULL;
    switch (e) {
    case 'n': simple = "\n"; break;
    case 't': simple = "\t"; break;
    case 'r': simple = "\r"; break;
    case '\\': simple = "\\"; break;
    case '\'': simple = "'"; break;
    case '"': simple = "\""; break;
    case 'a': simple = "\a"; break;
    case 'b': simple = "\b"; break;
    case 'f': simple = "\f"; break;
    case 'v': simple = "\v"; break;
    case '\n': simple = ""; break;
    default: break;
    }
    if (simple) {
      jbuf_puts(c, &b, simple);
      continue;
    }
    int digits = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;
    if (!digits) { /* Python keeps an unknown escape as written */
      jbuf_put(c, &b, L->s + i - 2, 2);
      continue;
    }
    if (i + (size_t)digits > L->n)
      jfail(c, line, "truncated \\%c escape in a string", e);
    unsigned long cp = 0;
    for (int k = 0; k < digits; ++k) {
      char h = L->s[i + (size_t)k];
      int d = is_digit(h) ? h - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                                    : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
      if (d < 0)
        jfail(c, line, "bad \\%c escape in a string", e);
      cp = cp * 16 + (unsigned long)d;
    }
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      jfail(c, line, "\\%c escape outside Unicode", e);
    put_utf8(c, &b, cp);
    i += (size_t)digits;
  }
  jtoken *t = push(L, JT_STRING);
  t->s = jbuf_str(&b);
  advance(L, i + 1);
}

static void lex_number(lexer *L) {
  size_t i = L->pos;
  int is_float = 0;
  while (i < L->n && (is_digit(L->s[i]) || L->s[i] == '_'))
    ++i;
  if (i + 1 < L->n && L->s[i] == '.' && is_digit(L->s[i + 1])) {
    is_float = 1;
    for (++i; i < L->n && (is_digit(L->s[i]) || L->s[i] == '_');)
      ++i;
  }
  if (i < L->n && (L->s[i] == 'e' || L->s[i] == 'E')) {
    size_t j = i + 1;
    if (j < L->n && (L->s[j] == '+' || L->s[j] == '-'))
      ++j;
    if (j < L->n && is_digit(L->s[j])) {
      is_float = 1;
      for (i = j; i < L->n && is_digit(L->s[i]);)
        ++i;
    }
  }
  char text[64];
  size_t k = 0;
  for (size_t j = L->pos; j < i && k + 1 < sizeof text; ++j)
    if (L->s[j] != '_')
      text[k++] = L->s[j];
  text[k] = 0;
  if (i - L->pos >= sizeof text)
    jfail(L->c, L->line, "number too long");
  jtoken *t = push(L, is_float ? JT_FLOAT : JT_INT);
  if (is_float) {
    t->f = strtod(text, NULL);
  } else {
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    if (v > INT64_MAX)
      jfail(L->c, L->line, "integer %s does not fit 64 bits", text);
    t->i = (int64_t)v;
  }
  advance(L, i);
}

/* The contents of {{ ... }} or {% ... %}, up to and including the end
 * marker; returns the whitespace control of the end ('-', '+' or 0). */
static char lex_tag(lexer *L, int is_block) {
  static const char *ops[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~",
                              "<",  ">",  "=",  "(",  ")",  "[",  "]", "{", "}", ",", ".", ":",
                              "|"};
  jctx *c = L->c;
  int line = L->line;
  for (;;) {
    while (L->pos < L->n && is_space(L->s[L->pos]))
      advance(L, L->pos + 1);
    if (L->pos >= L->n)
      jfail(c, line, "tag not closed: expected '%s'", is_block ? "%}" : "}}");
    const char *end = is_block ? "%}" : "}}";
    for (const char *ctl = "-+"; *ctl; ++ctl)
      if (L->s[L->pos] == *ctl && starts(L, L->pos + 1, end) && (is_block || *ctl == '-')) {
        push(L, JT_END);
        advance(L, L->pos + 3);
        return *ctl;
      }
    if (starts(L, L->pos, end)) {
      push(L, JT_END);
      advance(L, L->pos + 2);
      return 0;
    }
    char ch = L->s[L->pos];
    if (ch == '\'' || ch == '"') {
      lex_string(L);
    } else if (is_digit(ch)) {
      lex_number(L);
    } else if (is_name_start(ch)) {
      size_t i = L->pos;
      while (i < L->n && (is_name_start(L->s[i]) || is_digit(L->s[i])))
        ++i;
      jtoken *t = push(L, JT_NAME);
      t->s.p = L->s + L->pos, t->s.n = i - L->pos;
      advance(L, i);
    } else {
      size_t k = 0;
      for (size_t o = 0; o < sizeof ops / sizeof *ops; ++o)
        if (starts(L, L->pos, ops[o])) {
          k = strlen(ops[o]);
          break;
        }
      if (!k)
        jfail(c, L->line, "unexpected character '%c'", ch);
      jtoken *t = push(L, JT_OP);
      t->s.p = L->s + L->pos, t->s.n = k;
      advance(L, L->pos + k);
    }
  }
}

/* After a tag: '-' eats all whitespace, a plain block or comment end eats
 * one newline. Returns whether what was eaten ended a line. */
static int after_tag(lexer *L, char ctl, int trims) {
  size_t start = L->pos;
  if (ctl == '-') {
    size_t i = L->pos;
    while (i < L->n && is_space(L->s[i]))
      ++i;
    advance(L, i);
  } else if (ctl == 0 && trims && L->pos < L->n && L->s[L->pos] == '\n') {
    advance(L, L->pos + 1);
  }
  return L->pos > start && L->s[L->pos - 1] == '\n';
}

void jinja_lex(jctx *c, const char *text, size_t n) {
  lexer L = {c, text, n, 0, 1, 0};
  int line_starting = 1;
  while (L.pos < L.n) {
    /* the next tag */
    size_t q = L.pos;
    while (q + 1 < L.n && !(L.s[q] == '{' && (L.s[q + 1] == '{' || L.s[q + 1] == '%' ||
                                               L.s[q + 1] == '#')))
      ++q;
    if (q + 1 >= L.n)
      q = L.n;
    jstr data = {L.s + L.pos, q - L.pos};
    char kind = q < L.n ? L.s[q + 1] : 0;
    char ctl = q + 2 < L.n ? L.s[q + 2] : 0;
    if (kind && ctl == '-') {
      while (data.n && is_space(data.p[data.n - 1]))
        --data.n;
    } else if ((kind == '%' || kind == '#') && ctl != '+') {
      size_t l_pos = data.n;
      while (l_pos > 0 && data.p[l_pos - 1] != '\n')
        --l_pos;
      int only_space = 1;
      for (size_t i = l_pos; i < data.n; ++i)
        only_space &= is_space(data.p[i]);
      if ((l_pos > 0 || line_starting) && only_space)
        data.n = l_pos;
    }
    if (data.n) {
      jtoken *t = push(&L, JT_DATA);
      t->s = data;
    }
    advance(&L, q);
    if (!kind)
      break;
    int skip = ctl == '-' || ctl == '+' ? 3 : 2;
    if (kind == '#') {
      int line = L.line;
      size_t e = L.pos + 2;
      while (e + 1 < L.n && !(L.s[e] == '#' && L.s[e + 1] == '}'))
        ++e;
      if (e + 1 >= L.n)
        jfail(c, line, "comment not closed: expected '#}'");
      char end_ctl = e > L.pos + 2 && (L.s[e - 1] == '-' || L.s[e - 1] == '+') ? L.s[e - 1] : 0;
      advance(&L, e + 2);
      line_starting = after_tag(&L, end_ctl, 1);
      continue;
    }
    jtoken *begin = push(&L, kind == '%' ? JT_BLOCK_BEGIN : JT_VAR_BEGIN);
    (void)begin;
    advance(&L, L.pos + (size_t)skip);
    char end_ctl = lex_tag(&L, kind == '%');
    line_starting = after_tag(&L, end_ctl, kind == '%');
  }
  push(&L, JT_EOF);
}
