//===- KVCache.cpp - the qnt-kv-cache pass ---------------------------------===//
//
// Chooses the element type of the KV cache. With f16, keys and values are
// rounded to half precision (nearest even) when they are stored, and every
// later read sees the rounded values: the reference executor and the
// targets agree on that, and the cache (read whole at every decode step)
// takes half the memory and bandwidth.
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
    else {
      module.emitError() << "qnt-kv-cache: element-type must be f32 or f16, got '"
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
