//===- QuantizeActivations.cpp - the qnt-quantize-activations pass ---------===//
//
// Calibration-driven scale insertion: every distinct linear input gets a
// symmetric per-tensor int scale from an observer and becomes
// quant.qcast / quant.dcast with an upstream !quant.uniform type, or, in
// dynamic mode, a qnt.dynamic_quant (per-token scale at run time).
//
//===----------------------------------------------------------------------===//
#include "passes/Activations/Observers.h"
#include "passes/Common/QuantPatterns.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Quant/IR/Quant.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/IR/Builders.h"

namespace qopt {
#define GEN_PASS_DEF_QNTQUANTIZEACTIVATIONS
#include "passes/Passes.h.inc"
} // namespace qopt

using namespace mlir;

namespace qopt {
namespace {

struct QntQuantizeActivationsPass : QuantPass<QntQuantizeActivationsPass, impl::QntQuantizeActivationsBase> {
  using QuantPass::QuantPass;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (mode != "static" && mode != "dynamic")
      return fail("mode must be 'static' or 'dynamic', got '" + mode + "'");
    if (bits < 2 || bits > 8)
      return fail("bits must be in [2, 8], got " + llvm::Twine(int64_t(bits)));
    auto kind = observers::parseKind(observer);
    if (!kind)
      return fail("observer must be minmax, percentile or mse, got '" + observer + "'");
    if (!(percentile > 0 && percentile <= 100))
      return fail("percentile must be in (0, 100], got " + std::to_string(double(percentile)));

    // Distinct linear inputs (q/k/v share one), in program order.
    auto fn = module.lookupSymbol<func::FuncOp>("forward");
    if (!fn)
      return fail("module has no 'forward' function");
    std::vector<Value> inputs;
    std::vector<Operation *> linears;
    llvm::DenseSet<Value> seen;
    fn.walk([&](qnt::LinearOp l) {
      linears.push_back(l);
      if (seen.insert(l.getInput()).second)
        inputs.push_back(l.getInput());
    });
    OpBuilder b(module.getContext());
    if (mode == "dynamic") {
      for (Value input : inputs) {
        b.setInsertionPointAfterValue(input);
        Value q = qnt::DynamicQuantOp::create(b, input.getLoc(), input.getType(), input,
                                              b.getI64IntegerAttr(bits), nullptr);
        replaceLinearUses(input, q);
      }
      return;
    }
    auto store = requireStore();
    auto calib = requireCalibration();
    if (!store || !calib)
      return;
    RecordOptions record;
    record.maxSampleRows = *kind == observers::Kind::MinMax ? 0 : 4096;
    record.onSample = calibrationProgress();
    auto stats = recordActivations(module, store, *calib, linears, record);
    if (!stats)
      return fail(llvm::toString(stats.takeError()));
    int64_t qmax = (int64_t(1) << (bits - 1)) - 1;
    for (Value input : inputs) {
      const ActivationStats &st = (*stats)[input];
      double range = observers::range(*kind, st, percentile, qmax);
      double scale = range > 0 ? range / double(qmax) : 1.0;
      auto tensor = cast<RankedTensorType>(input.getType());
      auto qtype = quant::UniformQuantizedType::get(
          quant::QuantizationFlags::Signed, b.getIntegerType(8), b.getF32Type(), scale,
          /*zeroPoint=*/0, -qmax, qmax);
      b.setInsertionPointAfterValue(input);
      Value q = quant::QuantizeCastOp::create(b, input.getLoc(), tensor.clone(qtype), input);
      Value d = quant::DequantizeCastOp::create(b, input.getLoc(), tensor, q);
      replaceLinearUses(input, d);
    }
  }

  static void replaceLinearUses(Value from, Value to) {
    from.replaceUsesWithIf(to, [](OpOperand &use) {
      auto linear = dyn_cast<qnt::LinearOp>(use.getOwner());
      return linear && use.getOperandNumber() == 0;
    });
  }
};

} // namespace
} // namespace qopt
