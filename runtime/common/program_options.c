/* program_options.c - see program_options.h. */
#include "program_options.h"

#include "qrt_common.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A prompt file larger than this is refused rather than cut: no model's
 * context holds more text. */
#define QRT_MAX_PROMPT_BYTES (16u << 20)

void qrt_program_usage(const char *argv0) {
  fprintf(stderr,
          "usage: %s [options]\n"
          "  -p TEXT          prompt (default: empty, generation starts after BOS)\n"
          "  -f FILE          read the prompt from a text file (at most 16 MiB, no NUL bytes)\n"
          "  -n N             total tokens including the prompt (default 256, at most the "
          "context)\n"
          "  --n-predict N    instead of -n: generate at most N tokens after the prompt\n"
          "                   (llama.cpp's -n); generation also stops at an EOS token\n"
          "  -t T             temperature, >= 0 (default 1.0; 0 = greedy)\n"
          "  --top-p P        nucleus sampling, in [0, 1] (default 0.9)\n"
          "  --seed S         sampling seed, 0 to 2^64-1 (default 42)\n"
          "  --threads N      worker threads, 1 to this machine's CPUs (default: all)\n"
          "  -w FILE          weights file (default: this program's file + .qrtw, found\n"
          "                   through /proc/self/exe, so symlinks and PATH work)\n"
          "  --ppl FILE       perplexity of a text file (qopt's protocol)\n"
          "  --ctx N          perplexity window, >= 2 (default 256)\n"
          "  --max-windows N  evaluate at most N windows (default 0: all)\n"
          "  --bench          time prefill and decode; print tokens/s, the weight bandwidth\n"
          "                   of decode, and the memory read bandwidth measured after\n"
          "                   each quarter of decode (it drifts on shared machines)\n"
          "  --prefill N      bench prompt length, >= 1 (default 128)\n"
          "  --decode N       bench decode steps, >= 1 (default 64)\n"
          "  --logits FILE    write the prompt's logits (with BOS) as .npy, float32\n"
          "                   [tokens, vocab], as `qopt logits -o` does\n"
          "  --chat           chat: the prompt (-p/-f) is the user's turn, rendered with the\n"
          "                   model's chat template; only the reply is printed, and it ends\n"
          "                   at an EOS token (or --n-predict tokens). Without -p/-f, each\n"
          "                   line of standard input is a user turn of one conversation\n"
          "  --system TEXT    with --chat: a system turn first\n"
          "  --serve          an OpenAI-compatible HTTP server: POST /v1/completions and\n"
          "                   /v1/chat/completions (stream: true for server-sent events),\n"
          "                   GET /v1/models, /health, /metrics; concurrent requests decode\n"
          "                   together. Stops on SIGTERM/SIGINT after the requests under way\n"
          "  --host ADDR      with --serve: address to listen on (default 127.0.0.1)\n"
          "  --port N         with --serve: port, 0 to 65535 (default 8080; 0: any free one)\n"
          "  --api-key KEY    with --serve: require 'Authorization: Bearer KEY'\n"
          "  --parallel N     with --serve: sequences decoded at once, each with its own KV\n"
          "                   cache, 1 to 256 (default 4)\n"
          "  --ctx N          with --serve: positions of each sequence's cache (default: the\n"
          "                   model's context)\n"
          "  --queue N        with --serve: requests that may wait for a sequence, 0 to\n"
          "                   1024, before 429 (default 64)\n"
          "  --max-body N     with --serve: largest request body in bytes before 413\n"
          "                   (default 1048576)\n",
          argv0);
}

/* The whole of v as an integer in [lo, hi]. */
static int parse_int(const char *flag, const char *v, long long lo, long long hi, long long *out,
                     char *err, size_t len) {
  char *end;
  errno = 0;
  long long x = strtoll(v, &end, 10);
  if (*v == '\0' || *end != '\0' || errno == ERANGE) {
    qrt_set_error(err, len, "%s expects an integer, got '%s'", flag, v);
    return -1;
  }
  if (x < lo || x > hi) {
    qrt_set_error(err, len, "%s must be in [%lld, %lld], got %lld", flag, lo, hi, x);
    return -1;
  }
  *out = x;
  return 0;
}

/* The whole of v as a finite number in [lo, hi]. */
static int parse_float(const char *flag, const char *v, float lo, float hi, float *out, char *err,
                       size_t len) {
  char *end;
  errno = 0;
  float x = strtof(v, &end);
  if (*v == '\0' || *end != '\0' || errno == ERANGE || !isfinite(x)) {
    qrt_set_error(err, len, "%s expects a number, got '%s'", flag, v);
    return -1;
  }
  if (x < lo || x > hi) {
    qrt_set_error(err, len, "%s must be in [%g, %g], got %g", flag, (double)lo, (double)hi,
                  (double)x);
    return -1;
  }
  *out = x;
  return 0;
}

static int parse_seed(const char *v, unsigned long long *out, char *err, size_t len) {
  char *end;
  errno = 0;
  unsigned long long x = strtoull(v, &end, 10);
  if (*v == '\0' || *v == '-' || *end != '\0' || errno == ERANGE) {
    qrt_set_error(err, len, "--seed expects an integer in [0, 2^64-1], got '%s'", v);
    return -1;
  }
  *out = x;
  return 0;
}

/* The prompt file, whole; text only. */
static char *read_prompt_file(const char *path, char *err, size_t len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    qrt_set_error(err, len, "%s: cannot open prompt file: %s", path, strerror(errno));
    return NULL;
  }
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    fclose(f);
    qrt_set_error(err, len, "%s: prompt file is not a regular file", path);
    return NULL;
  }
  if ((uint64_t)st.st_size > QRT_MAX_PROMPT_BYTES) {
    fclose(f);
    qrt_set_error(err, len, "%s: prompt file is %lld bytes, more than the %u a prompt may be", path,
                  (long long)st.st_size, QRT_MAX_PROMPT_BYTES);
    return NULL;
  }
  size_t size = (size_t)st.st_size;
  char *text = (char *)malloc(size + 1);
  if (!text) {
    fclose(f);
    qrt_set_error(err, len, "out of memory reading %s", path);
    return NULL;
  }
  size_t got = fread(text, 1, size, f);
  int failed = ferror(f);
  fclose(f);
  if (failed || got != size) {
    free(text);
    qrt_set_error(err, len, "%s: cannot read prompt file", path);
    return NULL;
  }
  const char *nul = (const char *)memchr(text, '\0', got);
  if (nul) {
    long long offset = (long long)(nul - text);
    free(text);
    qrt_set_error(err, len, "%s: prompt file has a NUL byte at offset %lld: not text", path,
                  offset);
    return NULL;
  }
  while (got && (text[got - 1] == '\n' || text[got - 1] == '\r'))
    --got;
  text[got] = '\0';
  return text;
}

/* PROGRAM.qrtw for the running executable: /proc/self/exe names the real
 * file wherever the program was started from (PATH, a symlink); argv0 only
 * where /proc is missing. */
static char *default_weights(const char *argv0) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  const char *base = argv0;
  if (n > 0) {
    exe[n] = '\0';
    base = exe;
  }
  size_t size = strlen(base) + sizeof ".qrtw";
  char *path = (char *)malloc(size);
  if (path)
    snprintf(path, size, "%s.qrtw", base);
  return path;
}

enum {
  OPT_TOP_P = 256,
  OPT_SEED,
  OPT_THREADS,
  OPT_PPL,
  OPT_CTX,
  OPT_MAX_WINDOWS,
  OPT_BENCH,
  OPT_PREFILL,
  OPT_DECODE,
  OPT_LOGITS,
  OPT_N_PREDICT,
  OPT_CHAT,
  OPT_SYSTEM,
  OPT_SERVE,
  OPT_HOST,
  OPT_PORT,
  OPT_API_KEY,
  OPT_PARALLEL,
  OPT_QUEUE,
  OPT_MAX_BODY
};

int qrt_parse_program_options(int argc, char **argv, qrt_program_options *o, char *err,
                              size_t len) {
  memset(o, 0, sizeof *o);
  o->prompt = "";
  o->steps = 256;
  o->ctx = 256;
  o->prefill = 128;
  o->decode = 64;
  o->seed = 42;
  o->temp = 1.0f;
  o->top_p = 0.9f;
  o->host = "127.0.0.1";
  o->port = 8080;
  o->parallel = 4;
  o->queue = 64;
  o->max_body = 1 << 20;
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  if (cpus < 1)
    cpus = 1;
  static const struct option longs[] = {{"help", no_argument, NULL, 'h'},
                                        {"top-p", required_argument, NULL, OPT_TOP_P},
                                        {"seed", required_argument, NULL, OPT_SEED},
                                        {"threads", required_argument, NULL, OPT_THREADS},
                                        {"ppl", required_argument, NULL, OPT_PPL},
                                        {"ctx", required_argument, NULL, OPT_CTX},
                                        {"max-windows", required_argument, NULL, OPT_MAX_WINDOWS},
                                        {"bench", no_argument, NULL, OPT_BENCH},
                                        {"prefill", required_argument, NULL, OPT_PREFILL},
                                        {"decode", required_argument, NULL, OPT_DECODE},
                                        {"logits", required_argument, NULL, OPT_LOGITS},
                                        {"n-predict", required_argument, NULL, OPT_N_PREDICT},
                                        {"chat", no_argument, NULL, OPT_CHAT},
                                        {"system", required_argument, NULL, OPT_SYSTEM},
                                        {"serve", no_argument, NULL, OPT_SERVE},
                                        {"host", required_argument, NULL, OPT_HOST},
                                        {"port", required_argument, NULL, OPT_PORT},
                                        {"api-key", required_argument, NULL, OPT_API_KEY},
                                        {"parallel", required_argument, NULL, OPT_PARALLEL},
                                        {"queue", required_argument, NULL, OPT_QUEUE},
                                        {"max-body", required_argument, NULL, OPT_MAX_BODY},
                                        {NULL, 0, NULL, 0}};
  const char *prompt_file = NULL;
  int steps_given = 0, prompt_given = 0;
  const char *server_given = NULL; /* a --serve option, for the message */
  opterr = 0; /* our messages, not getopt's */
  optind = 1;
  for (;;) {
    int prev = optind;
    /* '+': stop at the first non-option instead of permuting argv */
    int c = getopt_long(argc, argv, "+:hp:f:w:n:t:", longs, NULL);
    if (c == -1)
      break;
    const char *flag = argv[prev];
    int rc = 0;
    switch (c) {
    case 'h':
      o->help = 1;
      break;
    case 'p':
      o->prompt = optarg;
      prompt_given = 1;
      break;
    case 'f':
      prompt_file = optarg;
      break;
    case 'w':
      o->weights = optarg;
      break;
    case 'n':
      rc = parse_int("-n", optarg, 1, INT32_MAX, &o->steps, err, len);
      steps_given = 1;
      break;
    case OPT_N_PREDICT:
      rc = parse_int("--n-predict", optarg, 1, INT32_MAX, &o->n_predict, err, len);
      break;
    case 't':
      rc = parse_float("-t", optarg, 0.0f, INFINITY, &o->temp, err, len);
      break;
    case OPT_TOP_P:
      rc = parse_float("--top-p", optarg, 0.0f, 1.0f, &o->top_p, err, len);
      break;
    case OPT_SEED:
      rc = parse_seed(optarg, &o->seed, err, len);
      break;
    case OPT_THREADS:
      rc = parse_int("--threads", optarg, 1, cpus, &o->threads, err, len);
      break;
    case OPT_PPL:
      o->ppl_file = optarg;
      break;
    case OPT_CTX:
      rc = parse_int("--ctx", optarg, 2, INT32_MAX, &o->ctx, err, len);
      o->ctx_given = 1;
      break;
    case OPT_MAX_WINDOWS:
      rc = parse_int("--max-windows", optarg, 0, INT32_MAX, &o->max_windows, err, len);
      break;
    case OPT_BENCH:
      o->bench = 1;
      break;
    case OPT_PREFILL:
      rc = parse_int("--prefill", optarg, 1, INT32_MAX, &o->prefill, err, len);
      break;
    case OPT_DECODE:
      rc = parse_int("--decode", optarg, 1, INT32_MAX, &o->decode, err, len);
      break;
    case OPT_LOGITS:
      o->logits_file = optarg;
      break;
    case OPT_CHAT:
      o->chat = 1;
      break;
    case OPT_SYSTEM:
      o->system = optarg;
      break;
    case OPT_SERVE:
      o->serve = 1;
      break;
    case OPT_HOST:
      o->host = optarg;
      server_given = flag;
      break;
    case OPT_PORT:
      rc = parse_int("--port", optarg, 0, 65535, &o->port, err, len);
      server_given = flag;
      break;
    case OPT_API_KEY:
      o->api_key = optarg;
      server_given = flag;
      if (!*optarg) {
        qrt_set_error(err, len, "--api-key must not be empty");
        rc = -1;
      }
      break;
    case OPT_PARALLEL:
      rc = parse_int("--parallel", optarg, 1, 256, &o->parallel, err, len);
      server_given = flag;
      break;
    case OPT_QUEUE:
      rc = parse_int("--queue", optarg, 0, 1024, &o->queue, err, len);
      server_given = flag;
      break;
    case OPT_MAX_BODY:
      rc = parse_int("--max-body", optarg, 64, 1LL << 30, &o->max_body, err, len);
      server_given = flag;
      break;
    case ':':
      qrt_set_error(err, len, "%s needs a value", flag);
      rc = -1;
      break;
    default:
      qrt_set_error(err, len, "unknown option %s (see --help)", flag);
      rc = -1;
      break;
    }
    if (rc != 0)
      return -1;
  }
  if (optind < argc) {
    qrt_set_error(err, len, "%s is not an option (see --help)", argv[optind]);
    return -1;
  }
  if (o->help)
    return 0;
  if (steps_given && o->n_predict) {
    qrt_set_error(err, len, "give -n (positions, prompt included) or --n-predict (tokens to "
                            "generate), not both");
    return -1;
  }
  if (o->system && !o->chat) {
    qrt_set_error(err, len, "--system goes with --chat");
    return -1;
  }
  if (o->chat && (steps_given || o->bench || o->ppl_file || o->logits_file)) {
    qrt_set_error(err, len, "--chat generates a reply: it does not go with %s (use --n-predict "
                            "to cap the reply)",
                  steps_given ? "-n" : o->bench ? "--bench" : o->ppl_file ? "--ppl" : "--logits");
    return -1;
  }
  if (server_given && !o->serve) {
    qrt_set_error(err, len, "%s goes with --serve", server_given);
    return -1;
  }
  if (o->serve && (steps_given || o->n_predict || o->bench || o->ppl_file || o->logits_file ||
                   o->chat || prompt_given || prompt_file)) {
    qrt_set_error(err, len, "--serve takes its prompts from HTTP requests: it does not go with %s",
                  steps_given ? "-n" : o->n_predict ? "--n-predict" : o->bench ? "--bench"
                  : o->ppl_file ? "--ppl" : o->logits_file ? "--logits" : o->chat ? "--chat"
                  : "-p/-f");
    return -1;
  }
  if (prompt_file && prompt_given) {
    qrt_set_error(err, len, "give -p or -f, not both");
    return -1;
  }
  o->prompt_given = prompt_given || prompt_file;
  if (prompt_file) {
    if (!(o->owned_prompt = read_prompt_file(prompt_file, err, len)))
      return -1;
    o->prompt = o->owned_prompt;
  }
  if (!o->weights) {
    if (!(o->owned_weights = default_weights(argv[0]))) {
      qrt_set_error(err, len, "out of memory");
      return -1;
    }
    o->weights = o->owned_weights;
  }
  return 0;
}

void qrt_program_options_free(qrt_program_options *o) {
  free(o->owned_prompt);
  free(o->owned_weights);
  o->owned_prompt = o->owned_weights = NULL;
}
