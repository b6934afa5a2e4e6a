/* serve.h - the OpenAI-compatible HTTP server of a built program
 * (`PROGRAM --serve`): a C++ component over the runtime's C API, linked
 * into programs beside libqrt_main.a. The runtime itself has no server. */
#ifndef QRT_SERVE_H
#define QRT_SERVE_H

#include "qrt.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qrt_serve_options {
  const char *host;       /* address to bind (default loopback) */
  int port;               /* 0: any free port (printed at start) */
  const char *api_key;    /* NULL: no authentication */
  const char *model_name; /* what /v1/models lists and requests may name */
  int64_t max_queue;      /* requests waiting for a slot before 429 */
  int64_t max_body;       /* bytes of a request body before 413 */
} qrt_serve_options;

/* Serves `m` (loaded with qrt_load_batched: one slot per sequence) until
 * SIGTERM or SIGINT, which stop new requests (503) and let those under way
 * finish. 0, or -1 with a message (the port cannot be bound, ...). */
int qrt_serve(qrt_model *m, const qrt_serve_options *o, char *err, size_t err_len);

#ifdef __cplusplus
}
#endif

#endif
