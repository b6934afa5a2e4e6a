/* main.c - the command line of a program built by `qopt build`:
 *   NAME [-p PROMPT] [-n STEPS | --n-predict N] [-t TEMP] [--top-p P] [--seed S]
 *   NAME --ppl FILE [--ctx N] [--max-windows N]
 *   NAME --bench [--prefill N] [--decode N]
 *   NAME -p PROMPT --logits FILE.npy
 *   NAME --chat [--system TEXT] [-p PROMPT]
 *   NAME --serve [--host H] [--port N] [--parallel N] [--ctx N] [--api-key K]
 * Weights: NAME.qrtw beside the executable, or -w FILE. The options are
 * parsed in program_options.c. */
#include "chat_loop.h"
#include "logits_file.h"
#include "program_options.h"
#include "qrt.h"
#include "qrt_common.h"
#include "serve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *argv0, const char *msg) {
  fprintf(stderr, "%s: error: %s\n", argv0, msg);
  return 1;
}

static int generate(qrt_model *m, const char *argv0, const char *prompt, long long steps,
                    long long n_predict, float temp, float top_p, unsigned long long seed) {
  char err[512];
  int64_t max_seq = qrt_max_seq_len(m), vocab = qrt_vocab_size(m);
  if (n_predict == 0 && steps > max_seq) {
    snprintf(err, sizeof err, "-n %lld is beyond the model's context of %lld tokens", steps,
             (long long)max_seq);
    return fail(argv0, err);
  }
  int64_t cap = (int64_t)strlen(prompt) + 3;
  int32_t *tokens = (int32_t *)malloc(sizeof(int32_t) * (size_t)cap);
  int64_t n = qrt_encode(m, prompt, 1, 0, tokens, cap);
  if (n < 0) {
    free(tokens);
    return fail(argv0, QRT_NO_TOKENIZER);
  }
  if (n_predict > 0) { /* llama.cpp's -n: tokens after the prompt */
    /* the last token generated is not run, so it needs no position */
    if (n + n_predict - 1 > max_seq) {
      snprintf(err, sizeof err,
               "the prompt's %lld tokens and --n-predict %lld do not fit the model's context "
               "of %lld tokens",
               (long long)n, n_predict, (long long)max_seq);
      free(tokens);
      return fail(argv0, err);
    }
    steps = n + n_predict - 1; /* the loop makes steps - n + 1 tokens */
  }
  if (n == 0) {
    free(tokens);
    return fail(argv0, "the prompt is empty and this tokenizer adds no BOS to start from: give "
                       "a prompt with -p");
  }
  if (n_predict == 0 && n >= steps) {
    snprintf(err, sizeof err,
             "the prompt has %lld tokens (with BOS); -n must be larger to generate anything "
             "(at most %lld)",
             (long long)n, (long long)max_seq);
    free(tokens);
    return fail(argv0, err);
  }
  for (int64_t i = tokens[0] == qrt_bos(m) ? 1 : 0; i < n; ++i)
    fputs(qrt_decode(m, i > 0 ? tokens[i - 1] : -1, tokens[i]), stdout);
  float *logits = (float *)malloc(sizeof(float) * (size_t)vocab);
  uint64_t rng = seed ? seed : 1;
  double start = qrt_seconds();
  if (qrt_forward_last(m, tokens, n, 0, logits, err, sizeof err) != 0)
    return fail(argv0, err);
  int32_t previous = tokens[n - 1];
  const float *row = logits;
  int64_t generated = 0;
  for (int64_t p = n - 1; p < steps; ++p) {
    if (p > n - 1) {
      if (qrt_forward(m, &previous, 1, p, logits, err, sizeof err) != 0)
        return fail(argv0, err);
      row = logits;
    }
    int32_t next = qrt_sample(row, vocab, temp, top_p, &rng);
    if (qrt_is_eos(m, next)) /* llama2.c's BOS, which ends a story, is one */
      break;
    fputs(qrt_decode(m, previous, next), stdout);
    fflush(stdout);
    previous = next;
    ++generated;
  }
  double seconds = qrt_seconds() - start;
  printf("\n");
  fprintf(stderr, "%lld tokens in %.2f s (%.1f tokens/s)\n", (long long)generated, seconds,
          seconds > 0 ? (double)generated / seconds : 0.0);
  free(logits);
  free(tokens);
  return 0;
}

/* min, median and max of four values */
typedef struct spread4 {
  double min, median, max;
} spread4;
static spread4 spread(const double *in) {
  double v[4] = {in[0], in[1], in[2], in[3]};
  for (int i = 1; i < 4; ++i)
    for (int j = i; j > 0 && v[j - 1] > v[j]; --j) {
      double t = v[j];
      v[j] = v[j - 1];
      v[j - 1] = t;
    }
  spread4 r = {v[0], 0.5 * (v[1] + v[2]), v[3]};
  return r;
}

static int bench(qrt_model *m, const char *argv0, long long prefill, long long decode,
                 int threads) {
  char err[512];
  int64_t vocab = qrt_vocab_size(m), max_seq = qrt_max_seq_len(m);
  if (prefill < 1 || prefill + decode > max_seq) {
    snprintf(err, sizeof err, "--prefill %lld + --decode %lld must fit the context of %lld",
             prefill, decode, (long long)max_seq);
    return fail(argv0, err);
  }
  int32_t *tokens = (int32_t *)malloc(sizeof(int32_t) * (size_t)prefill);
  uint64_t rng = 12345;
  for (long long i = 0; i < prefill; ++i) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    tokens[i] = (int32_t)(3 + rng % (uint64_t)(vocab - 3));
  }
  float *logits = (float *)malloc(sizeof(float) * (size_t)vocab);
  /* warm-up: page in the weights */
  if (qrt_forward(m, tokens, 1, 0, logits, err, sizeof err) != 0)
    return fail(argv0, err);
  /* the prompt as generation processes it: logits of its last token only */
  double t0 = qrt_seconds();
  if (qrt_forward_last(m, tokens, prefill, 0, logits, err, sizeof err) != 0)
    return fail(argv0, err);
  double prefill_tps = (double)prefill / (qrt_seconds() - t0);
  /* This machine's memory bandwidth drifts (seen: 32 and 54 GB/s minutes
   * apart on one VM), so decode runs in segments, each followed by a read
   * bandwidth measurement, and the fraction is the median of the segments'
   * own ratios. */
  enum { SEGMENTS = 4 };
  double step_bytes = (double)qrt_decode_bytes(m), pct[SEGMENTS], read[SEGMENTS];
  double decode_seconds = 0.0;
  int32_t tok = tokens[prefill - 1];
  long long done = 0;
  for (int seg = 0; seg < SEGMENTS; ++seg) {
    long long steps = decode / SEGMENTS + (seg < decode % SEGMENTS);
    double s0 = qrt_seconds();
    for (long long i = 0; i < steps; ++i, ++done) {
      if (qrt_forward(m, &tok, 1, prefill + done, logits, err, sizeof err) != 0)
        return fail(argv0, err);
      tok = qrt_sample(logits, vocab, 0.0f, 0.9f, &rng);
    }
    double dt = qrt_seconds() - s0;
    decode_seconds += dt;
    read[seg] = qrt_read_bandwidth(m, (int64_t)1 << 29);
    pct[seg] = steps > 0 && dt > 0 && read[seg] > 0
                   ? 100.0 * step_bytes * (double)steps / dt / 1e9 / read[seg]
                   : 0.0;
  }
  double decode_tps = decode > 0 ? (double)decode / decode_seconds : 0.0;
  double decode_gbps = step_bytes * decode_tps / 1e9;
  spread4 r = spread(read);
  printf("isa=%s threads=%d weight_bytes=%.0f decode_bytes=%.0f prefill_tokens=%lld "
         "prefill_tok_s=%.2f decode_tokens=%lld decode_tok_s=%.2f decode_weight_GBps=%.2f "
         "read_GBps=%.2f read_GBps_min=%.2f read_GBps_max=%.2f decode_pct_of_read=%.0f\n",
         qrt_isa(m), threads, (double)qrt_weight_bytes(m), step_bytes, prefill, prefill_tps,
         decode, decode_tps, decode_gbps, r.median, r.min, r.max, spread(pct).median);
  free(tokens);
  free(logits);
  return 0;
}

int main(int argc, char **argv) {
  const char *argv0 = argv[0];
  char err[512];
  qrt_program_options o;
  if (qrt_parse_program_options(argc, argv, &o, err, sizeof err) != 0) {
    qrt_program_options_free(&o);
    return fail(argv0, err);
  }
  if (o.help) {
    qrt_program_usage(argv0);
    return 0;
  }
  /* a server opens one KV cache per sequence it decodes at once */
  qrt_model *m = o.serve ? qrt_load_batched(o.weights, (int)o.threads, o.parallel,
                                            o.ctx_given ? o.ctx : 0, err, sizeof err)
                         : qrt_load(o.weights, (int)o.threads, err, sizeof err);
  if (!m) {
    qrt_program_options_free(&o);
    return fail(argv0, err);
  }
  int rc;
  if (o.ppl_file) {
    double ppl = 0;
    int64_t predictions = 0;
    double t0 = qrt_seconds();
    rc = qrt_perplexity(m, o.ppl_file, o.ctx, o.max_windows, &ppl, &predictions, err,
                        sizeof err);
    if (rc == 0)
      printf("perplexity %.4f over %lld predictions (%.1f s)\n", ppl, (long long)predictions,
             qrt_seconds() - t0);
    else
      rc = fail(argv0, err);
  } else if (o.logits_file) {
    rc = qrt_write_prompt_logits(m, o.prompt, o.logits_file, err, sizeof err) == 0
             ? 0
             : fail(argv0, err);
  } else if (o.chat) {
    qrt_chat_options chat = {o.system, o.prompt_given ? o.prompt : NULL, o.n_predict, o.temp,
                             o.top_p, o.seed};
    rc = qrt_chat(m, &chat, err, sizeof err) == 0 ? 0 : fail(argv0, err);
  } else if (o.serve) {
    const char *name = strrchr(argv0, '/') ? strrchr(argv0, '/') + 1 : argv0;
    qrt_serve_options serve = {o.host,  (int)o.port, o.api_key, name,
                               o.queue, o.max_body};
    rc = qrt_serve(m, &serve, err, sizeof err) == 0 ? 0 : fail(argv0, err);
  } else if (o.bench) {
    rc = bench(m, argv0, o.prefill, o.decode, qrt_threads(m));
  } else {
    rc = generate(m, argv0, o.prompt, o.steps, o.n_predict, o.temp, o.top_p, o.seed);
  }
  qrt_free(m);
  qrt_program_options_free(&o);
  return rc;
}
