//===- CheckParams.cpp - resolve qnt.param against the store ---------------===//
#include "passes/Passes.h"

#include "qopt/Support/ParamTypes.h"
#include "qopt/Support/ParameterStore.h"

#include "mlir/IR/BuiltinOps.h"

namespace qopt {
#define GEN_PASS_DEF_QNTCHECKPARAMS
#include "passes/Passes.h.inc"
} // namespace qopt

using namespace mlir;

namespace qopt {
namespace {

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
      std::string mismatch = describeParamMismatch(op.getName(), op.getType(), *t);
      if (!mismatch.empty()) {
        op.emitError() << mismatch;
        return WalkResult::interrupt();
      }
      bytes += int64_t(t->nbytes);
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      return signalPassFailure();
    if (report)
      getOperation()->setAttr(kParamBytesAttr,
                              IntegerAttr::get(IntegerType::get(&getContext(), 64), bytes));
  }
};

} // namespace
} // namespace qopt
