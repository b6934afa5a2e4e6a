//===- KVCache.cpp - the qnt-kv-cache pass ---------------------------------===//
//
// Chooses the element type of the KV cache. With f16, keys and values are
// rounded to half precision (nearest even) when they are stored, and every
// later read sees the rounded values: the reference executor and the
// targets agree on that, and the cache (read whole at every decode step)
// takes half the memory and bandwidth. With i8, each stored row of
// head_dim keys (or values) of one position and KV head becomes int8 codes
// round(x / s) with s = max|x| / 127 (an f32 scale per row), read back as
// code * s: a quarter of f32's memory, for contexts or batches that do not
// fit otherwise.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

namespace qopt {
#define GEN_PASS_DEF_QNTKVCACHE
#include "passes/Passes.h.inc"
} // namespace qopt

using namespace mlir;

namespace qopt {
namespace {

struct QntKVCachePass : impl::QntKVCacheBase<QntKVCachePass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    Builder b(&getContext());
    Type element;
    if (elementType == "f32")
      element = b.getF32Type();
    else if (elementType == "f16")
      element = b.getF16Type();
    else if (elementType == "i8")
      element = b.getIntegerType(8);
    else {
      module.emitError() << "qnt-kv-cache: element-type must be f32, f16 or i8, got '"
                         << elementType << "'";
      return signalPassFailure();
    }
    for (auto fn : module.getOps<func::FuncOp>()) {
      if (fn.isExternal())
        continue;
      SmallVector<Type> inputs(fn.getFunctionType().getInputs());
      bool changed = false;
      for (auto [i, type] : llvm::enumerate(inputs)) {
        auto cache = dyn_cast<qnt::KVCacheType>(type);
        if (!cache || cache.getElementType() == element)
          continue;
        type = qnt::KVCacheType::get(&getContext(), cache.getLayers(), cache.getMaxSeqLen(),
                                     cache.getKvHeads(), cache.getHeadDim(), element);
        fn.getArgument(i).setType(type);
        changed = true;
      }
      if (changed)
        fn.setType(b.getFunctionType(inputs, fn.getFunctionType().getResults()));
    }
  }
};

} // namespace
} // namespace qopt
