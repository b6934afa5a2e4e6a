//===- Kernels.h - float kernels of the reference executor ------*- C++ -*-===//
//
// Plain, readable float kernels. Accumulation orders are fixed (independent of
// the thread count), so results are deterministic. These define the numbers
// that compiled code is checked against.
//
//===----------------------------------------------------------------------===//
#ifndef QOPT_EXEC_KERNELS_H
#define QOPT_EXEC_KERNELS_H

#include "qopt/Support/ThreadPool.h"

#include "llvm/ADT/ArrayRef.h"

#include <cstdint>

namespace qopt::kernels {

/// Dot product with eight partial sums (a fixed order).
float dot(const float *a, const float *b, int64_t n);

/// y[M,N] = x[M,K] W[N,K]^T (+ bias[N]).
void linear(ThreadPool &pool, const float *x, int64_t M, int64_t K, const float *w,
            int64_t N, const float *bias, float *y);

/// y[M,N] = a[M,K] b[K,N].
void matmul(ThreadPool &pool, const float *a, int64_t M, int64_t K, const float *b,
            int64_t N, float *y);

/// Row-wise RMS normalization over D features.
void rmsNorm(const float *x, int64_t M, int64_t D, const float *w, float eps, float *y);

/// Rotary embedding of rows at positions pos0 .. pos0+M-1.
void rope(const float *x, int64_t M, int64_t width, int64_t headDim, int64_t pos0,
          float theta, bool interleaved, const float *freqScale, float *y);

/// Layout of one layer's slice of the KV cache: [maxSeq][kvHeads * headDim].
struct KVSlice {
  float *keys;
  float *values;
  int64_t maxSeq;
};

/// Writes k/v rows for positions pos0.. into the cache, then computes causal
/// grouped-query attention for the M query rows; with window W > 0, the
/// row at position p attends to positions max(0, p-W+1)..p only.
void attention(ThreadPool &pool, const float *q, const float *k, const float *v,
               int64_t M, int64_t pos0, KVSlice cache, int64_t numHeads,
               int64_t numKvHeads, int64_t headDim, float scale, int64_t window, float *out);

void silu(const float *x, int64_t n, float *y);
void gelu(const float *x, int64_t n, bool tanhApprox, float *y);
void swiglu(const float *gate, const float *up, int64_t n, float *y);
/// Per-row symmetric fake quantization to `bits`-bit signed integers with
/// scale max|x| / (2^(bits-1) - 1); channels with keep[c] pass through and
/// do not count towards the max.
void dynamicQuantRows(const float *x, int64_t rows, int64_t cols, int64_t bits,
                      llvm::ArrayRef<bool> keep, float *y);
/// One row of an i8 KV cache as it reads back: codes clamp(round-to-nearest-
/// even(x / s), -127, 127) times s = max|x| / 127 (1 for an all-zero row);
/// runtime/cpu/glue_kernels.c stores the same codes and scale.
void int8KvRow(const float *x, int64_t n, float *y);
/// -log softmax(logits)[target], computed in double.
double negativeLogLikelihood(llvm::ArrayRef<float> logits, int32_t target);
void add(const float *a, const float *b, int64_t n, float *y);
void mul(const float *a, const float *b, int64_t n, float *y);

} // namespace qopt::kernels

#endif
