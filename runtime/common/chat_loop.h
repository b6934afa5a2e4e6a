/* chat_loop.h - a program's --chat (chat_loop.c). */
#ifndef QRT_CHAT_LOOP_H
#define QRT_CHAT_LOOP_H

#include "qrt.h"

#include <stddef.h>

typedef struct qrt_chat_options {
  const char *system; /* a system turn first, or NULL */
  const char *prompt; /* the one user turn, or NULL: each line of stdin is one */
  long long n_predict; /* at most this many tokens per reply; 0: to EOS or the context */
  float temp, top_p;
  unsigned long long seed;
} qrt_chat_options;

/* Runs the conversation, printing each reply; 0, or -1 with err set. */
int qrt_chat(qrt_model *m, const qrt_chat_options *o, char *err, size_t len);

#endif
