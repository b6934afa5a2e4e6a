//===- CheckParams.cpp - resolve qnt.param against the store ---------------===//
#include "passes/Passes.h"

#include "qopt/Support/ParameterStore.h"

#include "mlir/IR/BuiltinOps.h"

namespace qopt {
#define GEN_PASS_DEF_QNTCHECKPARAMS
#include "passes/Passes.h.inc"
} // namespace qopt

using namespace mlir;

namespace qopt {
namespace {

bool dtypeMatches(Type elt, DType dtype) {
  return (elt.isF32() && dtype == DType::F32) || (elt.isF16() && dtype == DType::F16) ||
         (elt.isBF16() && dtype == DType::BF16) ||
         (elt.isInteger(32) && dtype == DType::I32) ||
         (elt.isInteger(8) && (dtype == DType::I8 || dtype == DType::U8));
}

struct QntCheckParamsPass : impl::QntCheckParamsBase<QntCheckParamsPass> {
  using Base::Base;

  void runOnOperation() override {
    auto *dialect = getContext().getLoadedDialect<qnt::QntDialect>();
    std::shared_ptr<ParameterStore> store =
        dialect ? dialect->getParameterStore() : nullptr;
    if (!store) {
      getOperation().emitError(
          "no parameter store is attached (run qopt-opt with --params FILE)");
      return signalPassFailure();
    }
    int64_t bytes = 0;
    WalkResult result = getOperation().walk([&](qnt::ParamOp op) {
      const TensorView *t = store->lookup(op.getName());
      if (!t) {
        op.emitError() << "parameter '" << op.getName()
                       << "' is not in the parameter store";
        return WalkResult::interrupt();
      }
      if (ArrayRef<int64_t>(t->shape) != op.getType().getShape() ||
          !dtypeMatches(op.getType().getElementType(), t->dtype)) {
        op.emitError() << "parameter '" << op.getName() << "' is "
                       << dtypeName(t->dtype) << t->shapeString()
                       << " in the store but the IR expects " << op.getType();
        return WalkResult::interrupt();
      }
      bytes += int64_t(t->nbytes);
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      return signalPassFailure();
    if (report)
      getOperation()->setAttr("qnt.param_bytes",
                              IntegerAttr::get(IntegerType::get(&getContext(), 64), bytes));
  }
};

} // namespace
} // namespace qopt
