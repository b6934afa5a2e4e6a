//===- GPTQSolver.h - the GPTQ algorithm on one weight matrix ----*- C++ -*-===//
//
// Pure math, no IR: quantizes W [rows, cols] given H = 2 X^T X [cols, cols]
// (Frantar et al. 2022, Algorithm 1 with the lazy batch updates of section
// 3.3 and the reference implementation's act-order and group handling).
// Unit-tested against a numpy transcription (python/qopt_ref/gptq.py).
//
//===----------------------------------------------------------------------===//
#ifndef QOPT_PASSES_GPTQ_GPTQSOLVER_H
#define QOPT_PASSES_GPTQ_GPTQSOLVER_H

#include "Qnt/Utils/QuantScheme.h"

#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace qopt {
class ThreadPool;
namespace gptq {

struct Options {
  double damp = 0.01;        // fraction of mean(diag H) added to the diagonal
  int64_t blockSize = 128;   // lazy-update block
  bool actOrder = false;     // columns by decreasing diag(H)
  bool staticGroups = false; // group parameters from the unmodified W
  bool clipSearch = false;   // group ranges by least weight MSE (reference's mse option)
  int maxDampRetries = 6;    // damp *= 10 while H + damp I is not positive definite
};

struct Result {
  qmath::QuantizedWeight weight;
  double dampUsed = 0;  // the fraction that worked
  int dampRetries = 0;  // how many times it was raised
};

/// What GPTQ needs of a Hessian, computed once for every linear that reads
/// the same input (q/k/v share one, gate/up another).
struct Factorization {
  int64_t cols = 0;
  std::vector<int64_t> perm;     // solve order: position -> column
  std::vector<int64_t> position; // column -> position
  std::vector<bool> dead;        // never-active columns, fixed to zero
  /// Upper Cholesky factor U of the permuted, dampened H^-1 = U^T U,
  /// column-major [cols, cols].
  std::vector<double> u;
  double dampUsed = 0;
  int dampRetries = 0;
};

/// Errors when H stays indefinite after every retry, or has the wrong size.
/// The pool (may be null) shares the triangular inverse.
llvm::Expected<Factorization> factorize(const std::vector<double> &h, int64_t cols,
                                        const Options &options, ThreadPool *pool = nullptr);

/// Rows are independent given the factorization: they are solved in
/// chunks of fixed size on the pool (may be null), so that the result does
/// not depend on its size.
llvm::Expected<Result> quantize(const qmath::Scheme &scheme, const float *w, int64_t rows,
                                int64_t cols, const Factorization &f, const Options &options,
                                ThreadPool *pool = nullptr);

/// factorize, then quantize.
llvm::Expected<Result> quantize(const qmath::Scheme &scheme, const float *w, int64_t rows,
                                int64_t cols, const std::vector<double> &h,
                                const Options &options, ThreadPool *pool = nullptr);

} // namespace gptq
} // namespace qopt

#endif
