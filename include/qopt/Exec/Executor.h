//===- Executor.h - the reference executor of qnt IR ------------*- C++ -*-===//
//
// Interprets the `forward` function of a qnt module on the CPU. It owns the KV
// cache and a thread pool; parameters come from the ParameterStore (f16/bf16
// parameters are widened to f32 once, when the executor is created).
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
#include <vector>

namespace qopt {

struct ExecOptions {
  /// Worker threads; 0 = one per hardware thread.
  unsigned threads = 0;
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

  /// Runs tokens at positions pos .. pos+n-1, appending to the KV cache, and
  /// returns row-major logits [n, vocab].
  llvm::Expected<std::vector<float>> forward(llvm::ArrayRef<int32_t> tokens, int64_t pos);

  /// Installs (or, with an empty function, removes) the linear observer.
  void setLinearObserver(LinearObserver observer) { linearObserver = std::move(observer); }
  /// Makes the parameter op `param` (qnt.param or qnt.qparam) read `data`
  /// (same shape, f32, kept alive by the caller) instead of its stored
  /// tensor; null restores the stored tensor. For sensitivity measurements.
  void overrideParameter(mlir::Operation *param, const float *data);

  /// Forgets the KV cache contents (a new, independent sequence follows).
  void resetCache();

  int64_t vocabSize() const { return vocab; }
  int64_t maxSeqLen() const { return maxSeq; }

private:
  Executor(mlir::func::FuncOp fn, std::shared_ptr<ParameterStore> store,
           ExecOptions options);
  llvm::Error resolveParameters();
  void computeLastUses();

  mlir::Operation *entry;
  std::shared_ptr<ParameterStore> store;
  ThreadPool pool;
  /// qnt.param op -> its f32 data (into the store, or into `widened`).
  llvm::DenseMap<mlir::Operation *, const float *> paramData;
  llvm::DenseMap<mlir::Operation *, const float *> overridden; // originals
  std::vector<std::unique_ptr<std::vector<float>>> widened;
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
