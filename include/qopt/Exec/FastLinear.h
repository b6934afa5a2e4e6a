//===- FastLinear.h - calibration's dense products on the runtime kernels -*- C++ -*-===//
//
// The reference executor's own kernels (Kernels.h) are the oracle compiled
// code is checked against: plain loops, slow. Calibration runs the model
// over tens of thousands of tokens, so its forward and its Hessians X^T X
// run here instead, on the f32 prefill kernels of the runtime (qrt_dense.h,
// the ones built programs prefill with). Each output row's value does not
// depend on how rows are split over threads: results are bit-identical for
// any thread count.
//
//===----------------------------------------------------------------------===//
#ifndef QOPT_EXEC_FASTLINEAR_H
#define QOPT_EXEC_FASTLINEAR_H

#include "qopt/Support/ThreadPool.h"

#include <cstdint>

namespace qopt::kernels {

/// y[M,N] = x[M,K] W[N,K]^T (+ bias[N]), as kernels::linear computes it
/// up to float rounding.
void fastLinear(ThreadPool &pool, const float *x, int64_t M, int64_t K, const float *w,
                int64_t N, const float *bias, float *y);

/// The lower triangle (i >= j) of xtx[cols, cols] += X^T X for X [rows,
/// cols] row-major: the products summed in float over the rows of this
/// call, added in double. The strict upper triangle is not touched.
void accumulateGram(ThreadPool &pool, const float *x, int64_t rows, int64_t cols, double *xtx);

/// The runtime kernel family these run on ("avx512vnni", "avx2", "portable").
const char *fastLinearFamily();

} // namespace qopt::kernels

#endif
