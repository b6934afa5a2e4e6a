/* program_options.h - the command line of a program built by `qopt build`,
 * parsed strictly: every number whole and in range (the ranges of `qopt
 * run`), unknown options and missing values named, the prompt file read
 * whole and refused when it is not text. */
#ifndef QRT_PROGRAM_OPTIONS_H
#define QRT_PROGRAM_OPTIONS_H

#include <stddef.h>

typedef struct qrt_program_options {
  const char *prompt;      /* -p, or the text of -f */
  const char *weights;     /* -w, or the .qrtw beside the executable */
  const char *ppl_file;    /* --ppl */
  const char *logits_file; /* --logits */
  const char *system;      /* --system, or NULL */
  long long steps, threads, ctx, max_windows, prefill, decode;
  long long n_predict; /* --n-predict, 0 when not given (then -n counts) */
  unsigned long long seed;
  float temp, top_p;
  int bench, help, chat;
  /* --serve: an OpenAI-compatible HTTP server (runtime/server/) */
  int serve;
  const char *host, *api_key;
  long long port, parallel, queue, max_body;
  int ctx_given; /* --ctx: with --serve, the positions of each sequence */
  int prompt_given; /* -p or -f */
  char *owned_prompt;  /* the -f text */
  char *owned_weights; /* the default weights path */
} qrt_program_options;

/* 0, or -1 with a one-line message (no program name) in err. */
int qrt_parse_program_options(int argc, char **argv, qrt_program_options *o, char *err, size_t len);
void qrt_program_options_free(qrt_program_options *o);

/* The usage text. */
void qrt_program_usage(const char *argv0);

#endif
