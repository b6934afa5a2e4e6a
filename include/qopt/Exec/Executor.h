//===- Executor.h - the reference executor of qnt IR ------------*- C++ -*-===//
//
// Interprets the `forward` function of a qnt module on the CPU. It owns the KV
// cache and a thread pool; parameters come from the ParameterStore (f16/bf16
// parameters are widened to f32 once, when the executor is created, or on
// first use within a memory budget: ExecOptions::widenBudgetBytes).
//
//===----------------------------------------------------------------------===//
#ifndef QOPT_EXEC_EXECUTOR_H
#define QOPT_EXEC_EXECUTOR_H

#include "qopt/Support/ParameterStore.h"
#include "qopt/Support/ThreadPool.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/Error.h"

#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace qopt {

namespace exec {
class ParamCache;
} // namespace exec

struct ExecOptions {
  /// Worker threads; 0 = one per hardware thread.
  unsigned threads = 0;
  /// Linears on the runtime's prefill kernels (FastLinear.h) instead of the
  /// executor's plain loops: for calibration, where the forward runs over
  /// many tokens; off for the oracle compiled code is checked against.
  bool fastLinear = false;
  /// The KV cache's length when positive and below the model's context:
  /// calibration runs windows of a few hundred tokens, and a 7B model's
  /// full-context cache would be gigabytes.
  int64_t maxSeqLen = 0;
  /// 0: every non-f32 parameter is widened to f32 when the executor is
  /// created. Positive: float parameters are widened when first used and
  /// the least recently used dropped past this many bytes (calibration of
  /// a model whose f32 weights would not fit; lib/Exec/ParamCache.h).
  int64_t widenBudgetBytes = 0;
};

/// Sees the input of every qnt.linear as it runs (calibration). Returning
/// true stops the forward pass right there: forward() then returns no logits.
using LinearObserver =
    std::function<bool(mlir::Operation *linear, const float *input, int64_t rows, int64_t cols)>;

class Executor {
public:
  /// Checks the entry point's signature and resolves every qnt.param against
  /// `store` (presence, shape, element type).
  static llvm::Expected<std::unique_ptr<Executor>>
  create(mlir::ModuleOp module, std::shared_ptr<ParameterStore> store,
         ExecOptions options = {});
  ~Executor();

  /// Runs tokens at positions pos .. pos+n-1, appending to the KV cache, and
  /// returns row-major logits [n, vocab].
  llvm::Expected<std::vector<float>> forward(llvm::ArrayRef<int32_t> tokens, int64_t pos);

  /// A forward that advances in stages (staged calibration): beginForward
  /// sets it up at the first op, runUntil interprets up to an op and
  /// pauses there with the live activations held, so that weights can
  /// change (overrideParameter) before the ops after the pause run. Every
  /// sample of a staged set starts at position 0 and runs whole, so all of
  /// them may be in flight at once over the one KV cache (an attention op
  /// writes and reads its sample's rows within itself).
  struct Cursor;
  struct CursorDeleter {
    void operator()(Cursor *c) const;
  };
  using CursorPtr = std::unique_ptr<Cursor, CursorDeleter>;
  llvm::Expected<CursorPtr> beginForward(llvm::ArrayRef<int32_t> tokens);
  /// Runs `cursor` until `stop` (an op of the entry block, not run) or the
  /// end of the function, whichever comes first.
  llvm::Error runUntil(Cursor &cursor, mlir::Operation *stop);
  /// The activation `v` as the paused cursor holds it (null when not live):
  /// [rows, cols] f32.
  const float *valueAt(const Cursor &cursor, mlir::Value v, int64_t &rows, int64_t &cols) const;
  /// Drops what the executor knows of `param` (about to be erased).
  void forgetParameter(mlir::Operation *param);

  /// Installs (or, with an empty function, removes) the linear observer.
  void setLinearObserver(LinearObserver observer) { linearObserver = std::move(observer); }
  /// Makes the parameter op `param` (qnt.param or qnt.qparam) read `data`
  /// (same shape, f32, kept alive by the caller) instead of its stored
  /// tensor; null restores the stored tensor. For sensitivity measurements.
  void overrideParameter(mlir::Operation *param, const float *data);

  /// Forgets the KV cache contents (a new, independent sequence follows).
  void resetCache();

  int64_t vocabSize() const { return vocab; }
  /// The executor's workers, for callers that compute beside a forward.
  ThreadPool &threadPool() { return pool; }
  int64_t maxSeqLen() const { return maxSeq; }

private:
  Executor(mlir::func::FuncOp fn, std::shared_ptr<ParameterStore> store,
           ExecOptions options);
  llvm::Error resolveParameters();
  void computeLastUses();
  llvm::Error checkTokens(llvm::ArrayRef<int32_t> tokens, int64_t pos) const;

  mlir::Operation *entry;
  std::shared_ptr<ParameterStore> store;
  ThreadPool pool;
  bool fastLinear;
  /// qnt.param / qnt.qparam op -> its f32 data.
  std::unique_ptr<exec::ParamCache> params;
  /// Values whose last use is the key op: freed right after it runs, so that
  /// peak activation memory is a few tensors rather than the whole graph.
  llvm::DenseMap<mlir::Operation *, llvm::SmallVector<mlir::Value, 2>> lastUses;
  /// [layers][maxSeq][kvHeads * headDim] for keys and for values.
  std::vector<float> cacheKeys, cacheValues;
  int64_t cacheLayers = 0, cacheRowWidth = 0;
  int64_t vocab = 0, maxSeq = 0;
  LinearObserver linearObserver;
};

} // namespace qopt

#endif
