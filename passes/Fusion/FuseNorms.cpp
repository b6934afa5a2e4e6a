//===- FuseNorms.cpp - qnt-fuse-residual-norm and qnt-fuse-norm-quant -----===//
//
// Vertical fusion around the norms. A residual add and the norm of its sum
// become one pass over each row (the sum is written once and never read
// back). With W8A8, the per-token quantization of the normalized row moves
// into the norm, so the norm writes int8 codes the linears read directly.
//
//===----------------------------------------------------------------------===//
#include "passes/Fusion/Fusion.h"
#include "passes/Passes.h"

#include "Qnt/Utils/LinearOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/Pass/PassRegistry.h"

namespace qopt {
#define GEN_PASS_DEF_QNTFUSERESIDUALNORM
#define GEN_PASS_DEF_QNTFUSENORMQUANT
#include "passes/Passes.h.inc"
} // namespace qopt

using namespace mlir;

namespace qopt {
namespace {

/// The first rms_norm (in program order) normalizing `sum`.
qnt::RmsNormOp firstNormOf(Value sum) {
  qnt::RmsNormOp first;
  for (Operation *user : sum.getUsers())
    if (auto norm = dyn_cast<qnt::RmsNormOp>(user))
      if (norm.getInput() == sum && norm->getBlock() == sum.getParentBlock() &&
          (!first || norm->isBeforeInBlock(first)))
        first = norm;
  return first;
}

struct QntFuseResidualNormPass : impl::QntFuseResidualNormBase<QntFuseResidualNormPass> {
  void runOnOperation() override {
    SmallVector<qnt::AddOp> adds;
    getOperation().walk([&](qnt::AddOp a) { adds.push_back(a); });
    for (qnt::AddOp add : adds) {
      qnt::RmsNormOp norm = firstNormOf(add.getResult());
      // The fused op sits where the add was; the sum may be read before the
      // norm, so the norm's weight moves up instead.
      if (!norm || !hoistWeightBefore(norm.getWeight(), add))
        continue;
      OpBuilder b(add);
      auto fused = qnt::AddRmsNormOp::create(
          b, add.getLoc(), TypeRange{add.getType(), norm.getType()}, add.getLhs(),
          add.getRhs(), norm.getWeight(), norm.getEpsAttr(), norm.getQuantBitsAttr());
      norm.getResult().replaceAllUsesWith(fused.getResult());
      add.getResult().replaceAllUsesWith(fused.getSum());
      norm.erase();
      add.erase();
    }
  }
};

struct QntFuseNormQuantPass : impl::QntFuseNormQuantBase<QntFuseNormQuantPass> {
  void runOnOperation() override {
    SmallVector<qnt::DynamicQuantOp> quantizers;
    getOperation().walk([&](qnt::DynamicQuantOp dq) { quantizers.push_back(dq); });
    for (qnt::DynamicQuantOp dq : quantizers) {
      if (dq.getBits() != 8 || dq.getKeepChannels() || !dq.getInput().hasOneUse() ||
          !qnt::feedsOnlyInt8Linears(dq.getResult(), /*allowOutliers=*/false))
        continue;
      Operation *norm = dq.getInput().getDefiningOp();
      auto bits = IntegerAttr::get(IntegerType::get(&getContext(), 64), 8);
      if (auto n = dyn_cast_or_null<qnt::RmsNormOp>(norm)) {
        n.setQuantBitsAttr(bits);
      } else if (auto n = dyn_cast_or_null<qnt::AddRmsNormOp>(norm);
                 n && dq.getInput() == n.getResult()) {
        n.setQuantBitsAttr(bits);
      } else {
        continue;
      }
      dq.replaceAllUsesWith(dq.getInput());
      dq.erase();
    }
  }
};

} // namespace

} // namespace qopt
