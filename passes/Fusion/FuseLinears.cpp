//===- FuseLinears.cpp - qnt-fuse-swiglu and qnt-fuse-linears --------------===//
//
// Horizontal fusion of the linears that read one value. Decode is bound by
// reading weights, so the gain is not in arithmetic: the input is read and
// quantized once instead of three (q/k/v) or two (gate/up) times, one
// parallel pass replaces several (each a wake-up of every thread), and the
// SwiGLU of gate and up happens while their rows are in cache.
//
//===----------------------------------------------------------------------===//
#include "passes/Fusion/Fusion.h"
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Dominance.h"

namespace qopt {
#define GEN_PASS_DEF_QNTFUSESWIGLU
#define GEN_PASS_DEF_QNTFUSELINEARS
#include "passes/Passes.h.inc"
} // namespace qopt

using namespace mlir;

namespace qopt {

bool hoistWeightBefore(Value weight, Operation *before) {
  Operation *def = weight.getDefiningOp();
  if (!def)
    return weight.getParentBlock() == before->getBlock();
  if (def->getBlock() != before->getBlock())
    return false;
  if (def->isBeforeInBlock(before))
    return true;
  if (!isa<qnt::ParamOp, qnt::QParamOp>(def))
    return false;
  def->moveBefore(before);
  return true;
}

namespace {

qnt::LinearOp plainLinear(Value v) {
  auto l = v.getDefiningOp<qnt::LinearOp>();
  return l && !l.getBias() && v.hasOneUse() ? l : nullptr;
}

struct QntFuseSwigluPass : impl::QntFuseSwigluBase<QntFuseSwigluPass> {
  void runOnOperation() override {
    SmallVector<qnt::SwigluOp> candidates;
    getOperation().walk([&](qnt::SwigluOp s) { candidates.push_back(s); });
    for (qnt::SwigluOp s : candidates) {
      qnt::LinearOp gate = plainLinear(s.getGate()), up = plainLinear(s.getUp());
      if (!gate || !up || gate == up || gate.getInput() != up.getInput() ||
          gate.getWeight().getType() != up.getWeight().getType())
        continue;
      OpBuilder b(s);
      auto fused = qnt::SwigluLinearOp::create(b, s.getLoc(), s.getType(), gate.getInput(),
                                               gate.getWeight(), up.getWeight());
      s.replaceAllUsesWith(fused.getResult());
      s.erase();
      gate.erase();
      up.erase();
    }
  }
};

struct QntFuseLinearsPass : impl::QntFuseLinearsBase<QntFuseLinearsPass> {
  using Base::Base;

  void runOnOperation() override {
    if (maxGroup < 2) {
      getOperation().emitError() << "qnt-fuse-linears: max-group must be at least 2, got "
                                 << int64_t(maxGroup);
      return signalPassFailure();
    }
    // Linears by input, each list in program order (walk order). Biased
    // and bias-free linears of one input form separate groups, so that a
    // fused op's biases are all or none (Qwen2's q/k/v all have them).
    llvm::MapVector<std::pair<Value, int>, SmallVector<qnt::LinearOp>> byInput;
    getOperation().walk([&](qnt::LinearOp l) {
      byInput[{l.getInput(), l.getBias() ? 1 : 0}].push_back(l);
    });
    for (auto &[input, all] : byInput) {
      // Only linears in one block merge; the first one's block decides.
      SmallVector<qnt::LinearOp> group;
      for (qnt::LinearOp l : all) {
        if (!group.empty() && l->getBlock() != group.front()->getBlock())
          continue;
        group.push_back(l);
        if (int64_t(group.size()) == maxGroup) {
          merge(group);
          group.clear();
        }
      }
      if (group.size() >= 2)
        merge(group);
    }
  }

  static void merge(ArrayRef<qnt::LinearOp> group) {
    Operation *first = group.front();
    SmallVector<Value> weights, biases;
    SmallVector<Type> types;
    SmallVector<qnt::LinearOp> merged;
    for (qnt::LinearOp l : group) {
      if (!hoistWeightBefore(l.getWeight(), first) ||
          (l.getBias() && !hoistWeightBefore(l.getBias(), first)))
        continue;
      weights.push_back(l.getWeight());
      if (l.getBias())
        biases.push_back(l.getBias());
      types.push_back(l.getType());
      merged.push_back(l);
    }
    if (merged.size() < 2)
      return;
    OpBuilder b(first);
    auto fused = qnt::MultiLinearOp::create(b, first->getLoc(), types,
                                            merged.front().getInput(), weights, biases);
    for (auto [l, result] : llvm::zip(merged, fused.getResults())) {
      l.getResult().replaceAllUsesWith(result);
      l.erase();
    }
  }
};

} // namespace
} // namespace qopt
