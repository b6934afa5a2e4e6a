//===- ExecFrame.h - one forward call of the reference executor -*- C++ -*-===//
//
// Executor::forward walks the entry function once; each op family
// (Exec*Ops.cpp) computes its ops from the Frame: the activations computed
// so far, the tokens and positions of this call, and what the executor owns
// (thread pool, parameter data, KV cache).
//
//===----------------------------------------------------------------------===//
#ifndef QOPT_EXEC_EXECFRAME_H
#define QOPT_EXEC_EXECFRAME_H

#include "ParamCache.h"
#include "qopt/Exec/Executor.h"
#include "qopt/Support/OpTable.h"

#include "mlir/IR/Value.h"
#include "llvm/ADT/SmallVector.h"

#include <vector>

namespace qopt::exec {

/// A run-time activation: its shape and f32 data, or a view of a parameter.
struct Act {
  llvm::SmallVector<int64_t, 2> shape;
  std::vector<float> storage;
  const float *view = nullptr;

  const float *data() const { return view ? view : storage.data(); }
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    return n;
  }
  int64_t rows() const { return shape.empty() ? 1 : numel() / shape.back(); }
  int64_t cols() const { return shape.empty() ? 1 : shape.back(); }

  static Act withShape(llvm::ArrayRef<int64_t> shape) {
    Act a;
    a.shape.assign(shape.begin(), shape.end());
    a.storage.resize(a.numel());
    return a;
  }
};

/// What the executor lends one forward call.
struct ExecState {
  ThreadPool &pool;
  ParamCache &params;
  float *cacheKeys, *cacheValues; // [layers][maxSeq][cacheRowWidth]
  int64_t maxSeq, cacheRowWidth;
  const LinearObserver &linearObserver;
  bool fastLinear; // ExecOptions::fastLinear
};

struct Frame {
  Frame(ExecState state, llvm::ArrayRef<int32_t> tokens, int64_t pos, mlir::Value tokenArg)
      : state(state), tokens(tokens), n(int64_t(tokens.size())), pos(pos), tokenArg(tokenArg) {}

  ExecState state;
  llvm::ArrayRef<int32_t> tokens;
  int64_t n, pos;
  mlir::Value tokenArg; // the entry's token argument
  llvm::DenseMap<mlir::Value, Act> values;
  /// Set by a linear observer that asked to stop the forward pass.
  bool stopped = false;

  const Act &in(mlir::Value v) const { return values.find(v)->second; }
  /// The parameter ops whose data live values view (not to be dropped).
  llvm::SmallVector<mlir::Operation *, 8> viewedParams() const;
  /// "OP at LOC: why", the executor's error for op.
  llvm::Error fail(mlir::Operation *op, const llvm::Twine &why) const;
  /// x [..., K] times W [N, K]^T (+ bias) -> [..., N] (linear and lm_head).
  Act weightProduct(mlir::Value input, mlir::Value weight, mlir::Value bias);
  /// An elementwise op's result, of its first operand's shape (the verifier
  /// guarantees all operands share it).
  void elementwise(mlir::Operation *op, std::initializer_list<mlir::Value> operands,
                   llvm::function_ref<void(const float *const *, int64_t, float *)> fn);
};

using ExecTable = OpTable<Frame>;

// The op families (one file each).
void addQuantExecs(ExecTable &table);       // ExecQuantOps.cpp: params, casts, dynamic_quant
void addNormExecs(ExecTable &table);        // ExecNormOps.cpp: embedding, norms
void addLinearExecs(ExecTable &table);      // ExecLinearOps.cpp: linears, lm_head, matmul
void addAttentionExecs(ExecTable &table);   // ExecAttentionOps.cpp: rope, attention
void addElementwiseExecs(ExecTable &table); // ExecElementwiseOps.cpp

} // namespace qopt::exec

#endif
