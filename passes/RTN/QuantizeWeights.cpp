//===- QuantizeWeights.cpp - round-to-nearest weight quantization ----------===//
#include "passes/Common/QuantPatterns.h"
#include "passes/Passes.h"

namespace qopt {
#define GEN_PASS_DEF_QNTQUANTIZEWEIGHTS
#include "passes/Passes.h.inc"
} // namespace qopt

using namespace mlir;

namespace qopt {
namespace {

struct QntQuantizeWeightsPass : QuantPass<QntQuantizeWeightsPass, impl::QntQuantizeWeightsBase> {
  using QuantPass::QuantPass;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto scheme = parseScheme(format, bits, groupSize, symmetric, doubleQuant);
    if (!scheme) {
      return fail(llvm::toString(scheme.takeError()));
    }
    auto store = requireStore();
    if (!store)
      return;
    std::vector<TargetLinear> linears = collectFloatLinears(module);
    // With calibration data the error is measured where it matters: on the
    // linear's outputs.
    ActivationMap stats;
    auto calib = module.getContext()->getOrLoadDialect<qnt::QntDialect>()->getCalibrationSet();
    if (calib && !calib->samples.empty() && !linears.empty()) {
      RecordOptions options;
      options.hessian = true;
      options.onSample = calibrationProgress();
      auto recorded = recordAtLinears(module, store, *calib, linears, options);
      if (!recorded) {
        return fail(llvm::toString(recorded.takeError()));
      }
      stats = std::move(*recorded);
    }
    for (TargetLinear &l : linears) {
      qmath::Scheme s = schemeFor(l.op, *scheme);
      auto w = readWeight(*store, l.name);
      if (!w) {
        return fail(llvm::toString(w.takeError()));
      }
      qmath::QuantizedWeight q = qmath::quantizeRTN(s, w->data(), l.rows, l.cols, clipSearch);
      std::vector<float> deq = q.dequantize();
      std::vector<double> h;
      auto it = stats.find(l.op.getInput());
      if (it != stats.end())
        h = it->second.hessian();
      replaceWithQuantized(l, q, *store, relativeOutputError(w->data(), deq.data(), l.rows,
                                                             l.cols, h));
    }
  }
};

} // namespace
} // namespace qopt
