//===- ParamCache.h - the f32 data each parameter op reads ------*- C++ -*-===//
//
// The executor computes in f32. f32 tensors are read in place in the
// parameter store; bf16/f16 ones are widened and quantized ones dequantized.
// With no budget that happens for every parameter when the executor is
// created (evaluation: the fastest forward). With a budget, float tensors
// are widened on first use and the least recently used are dropped when the
// widened bytes pass it: calibration of a model whose f32 weights do not
// fit in memory (a 7B bf16 checkpoint is 27 GB in f32) holds one block's.
// Overrides (sensitivity, true-sequential GPTQ) replace an op's data until
// removed.
//
//===----------------------------------------------------------------------===//
#ifndef QOPT_LIB_EXEC_PARAMCACHE_H
#define QOPT_LIB_EXEC_PARAMCACHE_H

#include "qopt/Support/TensorView.h"

#include "mlir/IR/Operation.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/DenseMap.h"

#include <cstdint>
#include <list>
#include <memory>
#include <vector>

namespace qopt::exec {

class ParamCache {
public:
  /// budgetBytes 0: everything made at registration, nothing dropped.
  explicit ParamCache(int64_t budgetBytes) : budget(budgetBytes) {}

  /// `op` reads `data` as it is (an aligned f32 tensor of the store).
  void addInPlace(mlir::Operation *op, const float *data) { entries[op].inPlace = data; }
  /// `op` reads `tensor` widened to f32 (`tensor` outlives the cache).
  void addWidened(mlir::Operation *op, const TensorView *tensor);
  /// `op` reads these values (a dequantized weight), made by the caller.
  void addMade(mlir::Operation *op, std::vector<float> values);

  /// The data `op` reads now; may widen, and may drop widened tensors other
  /// than those of the ops in `pinned` (still viewed by a running forward).
  /// Null when `op` is unknown.
  const float *get(mlir::Operation *op, llvm::ArrayRef<mlir::Operation *> pinned);
  bool contains(mlir::Operation *op) const { return entries.count(op); }

  /// `op` reads `data` (kept alive by the caller) until override(op, null).
  void override(mlir::Operation *op, const float *data) { entries[op].overridden = data; }
  /// Drops `op` (about to be erased).
  void forget(mlir::Operation *op);

  int64_t widenedBytes() const { return residentBytes; }

private:
  struct Entry {
    const float *inPlace = nullptr;
    const float *overridden = nullptr;
    const TensorView *source = nullptr; // widened on demand
    std::unique_ptr<std::vector<float>> values;
    std::list<mlir::Operation *>::iterator lru; // valid while lazily widened
  };
  void makeRoom(llvm::ArrayRef<mlir::Operation *> pinned, mlir::Operation *keep);

  int64_t budget;
  int64_t residentBytes = 0;
  llvm::DenseMap<mlir::Operation *, Entry> entries;
  std::list<mlir::Operation *> lruOrder; // lazily widened, oldest use first
};

} // namespace qopt::exec

#endif
