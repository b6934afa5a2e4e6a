/* chat_loop.c - a program's --chat: a conversation rendered with the
 * model's chat template (qrt_chat_prompt), one reply per user turn, each
 * ending at an EOS token. Each turn re-renders the whole conversation and
 * runs only the tokens after the longest prefix already in the KV cache
 * (a template may re-tokenize the previous reply differently), as
 * llama.cpp's server does. */
#include "chat_loop.h"

#include "qrt.h"
#include "qrt_common.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct conversation {
  qrt_chat_message *turns;
  size_t n, cap;
} conversation;

static int add_turn(conversation *c, const char *role, const char *content) {
  if (c->n == c->cap) {
    size_t cap = c->cap ? 2 * c->cap : 8;
    qrt_chat_message *t = (qrt_chat_message *)realloc(c->turns, cap * sizeof *t);
    if (!t)
      return -1;
    c->turns = t, c->cap = cap;
  }
  char *copy = strdup(content);
  if (!copy)
    return -1;
  c->turns[c->n].role = role;
  c->turns[c->n++].content = copy;
  return 0;
}

static void free_conversation(conversation *c) {
  for (size_t i = 0; i < c->n; ++i)
    free((void *)(uintptr_t)c->turns[i].content); /* add_turn strdup()ed it */
  free(c->turns);
}

typedef struct chat_state {
  qrt_model *m;
  const qrt_chat_options *o;
  int32_t *cached; /* the tokens whose keys and values are in the cache */
  int64_t n_cached;
  float *logits;
  uint64_t rng;
  int64_t generated, prompt_run;
  double seconds;
} chat_state;

/* Appends to *reply what one turn generates; 0, or -1 with err set. */
static int reply_to(chat_state *s, const conversation *conv, char **reply, char *err,
                    size_t len) {
  qrt_model *m = s->m;
  int64_t max_seq = qrt_max_seq_len(m), vocab = qrt_vocab_size(m);
  char *text = qrt_chat_prompt(m, conv->turns, conv->n, 1, err, len);
  if (!text)
    return -1;
  int64_t cap = (int64_t)strlen(text) + 2;
  int32_t *tokens = (int32_t *)malloc(sizeof(int32_t) * (size_t)cap);
  if (!tokens) {
    free(text);
    qrt_set_error(err, len, "out of memory");
    return -1;
  }
  /* the template writes the special tokens itself (bos_token included) */
  int64_t n = qrt_encode(m, text, 0, 0, tokens, cap);
  free(text);
  if (n <= 0 || n >= max_seq) {
    free(tokens);
    if (n < 0)
      qrt_set_error(err, len, "%s", QRT_NO_TOKENIZER);
    else
      qrt_set_error(err, len, "the conversation is %lld tokens, and the model's context is %lld",
                    (long long)n, (long long)max_seq);
    return -1;
  }
  int64_t common = 0;
  while (common < n && common < s->n_cached && tokens[common] == s->cached[common])
    ++common;
  if (common == n) /* the last token must run to give logits */
    --common;
  double start = qrt_seconds();
  if (qrt_forward_last(m, tokens + common, n - common, common, s->logits, err, len) != 0) {
    free(tokens);
    return -1;
  }
  s->prompt_run += n - common;
  memcpy(s->cached, tokens, sizeof(int32_t) * (size_t)n);
  s->n_cached = n;
  int32_t previous = tokens[n - 1];
  free(tokens);
  size_t used = 0, room = 256;
  char *out = (char *)malloc(room);
  if (!out) {
    qrt_set_error(err, len, "out of memory");
    return -1;
  }
  out[0] = 0;
  for (int64_t made = 0; s->o->n_predict == 0 || made < s->o->n_predict; ++made) {
    int32_t next = qrt_sample(s->logits, vocab, s->o->temp, s->o->top_p, &s->rng);
    if (qrt_is_eos(m, next))
      break;
    const char *piece = qrt_decode(m, previous, next);
    size_t k = strlen(piece);
    if (used + k + 1 > room) {
      while (used + k + 1 > room)
        room *= 2;
      char *grown = (char *)realloc(out, room);
      if (!grown) {
        free(out);
        qrt_set_error(err, len, "out of memory");
        return -1;
      }
      out = grown;
    }
    memcpy(out + used, piece, k + 1);
    used += k;
    fputs(piece, stdout);
    fflush(stdout);
    ++s->generated;
    if (s->n_cached >= max_seq) {
      fprintf(stderr, "\n[the reply reached the model's context of %lld tokens]\n",
              (long long)max_seq);
      break;
    }
    s->cached[s->n_cached] = next;
    if (qrt_forward(m, &next, 1, s->n_cached, s->logits, err, len) != 0) {
      free(out);
      return -1;
    }
    ++s->n_cached;
    previous = next;
  }
  s->seconds += qrt_seconds() - start;
  printf("\n");
  fflush(stdout);
  *reply = out;
  return 0;
}

/* One line of standard input without its newline, or NULL at the end. */
static char *read_line(void) {
  size_t room = 256, n = 0;
  char *line = (char *)malloc(room);
  int ch;
  if (!line)
    return NULL;
  while ((ch = getchar()) != EOF && ch != '\n') {
    if (n + 2 > room) {
      char *grown = (char *)realloc(line, room *= 2);
      if (!grown) {
        free(line);
        return NULL;
      }
      line = grown;
    }
    line[n++] = (char)ch;
  }
  if (ch == EOF && n == 0) {
    free(line);
    return NULL;
  }
  if (n && line[n - 1] == '\r')
    --n;
  line[n] = 0;
  return line;
}

int qrt_chat(qrt_model *m, const qrt_chat_options *o, char *err, size_t len) {
  if (!*qrt_chat_template(m)) {
    qrt_set_error(err, len, "%s", QRT_NO_CHAT_TEMPLATE);
    return -1;
  }
  chat_state s;
  memset(&s, 0, sizeof s);
  s.m = m, s.o = o, s.rng = o->seed ? o->seed : 1;
  int64_t max_seq = qrt_max_seq_len(m);
  s.cached = (int32_t *)malloc(sizeof(int32_t) * (size_t)max_seq);
  s.logits = (float *)malloc(sizeof(float) * (size_t)qrt_vocab_size(m));
  conversation conv = {0};
  int rc = s.cached && s.logits ? 0 : -1;
  if (rc != 0)
    qrt_set_error(err, len, "out of memory");
  if (rc == 0 && o->system && add_turn(&conv, "system", o->system) != 0)
    rc = -1, qrt_set_error(err, len, "out of memory");
  int interactive = !o->prompt;
  while (rc == 0) {
    char *line = NULL;
    if (interactive) {
      if (isatty(0))
        fputs("> ", stderr);
      if (!(line = read_line()))
        break;
      if (qrt_text_invalid_at(line, strlen(line)) >= 0) {
        free(line);
        rc = -1, qrt_set_error(err, len, "standard input is not UTF-8 text");
        break;
      }
    }
    if (add_turn(&conv, "user", interactive ? line : o->prompt) != 0) {
      free(line);
      rc = -1, qrt_set_error(err, len, "out of memory");
      break;
    }
    free(line);
    char *reply = NULL;
    rc = reply_to(&s, &conv, &reply, err, len);
    if (rc == 0) {
      rc = add_turn(&conv, "assistant", reply);
      if (rc != 0)
        qrt_set_error(err, len, "out of memory");
    }
    free(reply);
    if (!interactive)
      break;
  }
  if (rc == 0)
    fprintf(stderr, "%lld prompt tokens run, %lld generated in %.2f s (%.1f tokens/s)\n",
            (long long)s.prompt_run, (long long)s.generated, s.seconds,
            s.seconds > 0 ? (double)s.generated / s.seconds : 0.0);
  free_conversation(&conv);
  free(s.cached);
  free(s.logits);
  return rc;
}
