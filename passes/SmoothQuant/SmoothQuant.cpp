//===- SmoothQuant.cpp - the qnt-smoothquant pass --------------------------===//
//
// SmoothQuant (Xiao et al. 2022): divide each input channel j by
// s_j = max|X_j|^alpha / max|W_j|^(1 - alpha) and multiply the weights'
// column j by it. The float function is unchanged; activation outliers move
// into the weights, which quantize per output channel and absorb them.
//
//===----------------------------------------------------------------------===//
#include "passes/Common/QuantPatterns.h"
#include "passes/Passes.h"
#include "passes/SmoothQuant/SmoothingMath.h"

namespace qopt {
#define GEN_PASS_DEF_QNTSMOOTHQUANT
#include "passes/Passes.h.inc"
} // namespace qopt

using namespace mlir;

namespace qopt {
namespace {

struct QntSmoothQuantPass : QuantPass<QntSmoothQuantPass, impl::QntSmoothQuantBase> {
  using QuantPass::QuantPass;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (!(alpha >= 0 && alpha <= 1))
      return fail("alpha must be in [0, 1], got " + std::to_string(double(alpha)));
    auto store = requireStore();
    auto calib = requireCalibration();
    if (!store || !calib)
      return;
    std::vector<TargetLinear> linears = collectFloatLinears(module);
    RecordOptions record;
    record.maxSampleRows = alphaSearch ? 1024 : 0;
    record.onSample = calibrationProgress();
    auto stats = recordAtLinears(module, store, *calib, linears, record);
    if (!stats)
      return fail(llvm::toString(stats.takeError()));

    for (ScaleGroup &g : findScaleGroups(linears)) {
      const ActivationStats &st = (*stats)[g.input];
      std::vector<smooth::Weight> weights;
      for (TargetLinear &l : g.linears) {
        auto w = readWeight(*store, l.name);
        if (!w)
          return fail(llvm::toString(w.takeError()));
        weights.push_back({std::move(*w), l.rows, l.cols});
      }
      std::vector<float> actMax = st.absMax;
      double chosen = alpha;
      if (alphaSearch)
        chosen = smooth::searchAlpha(weights, actMax, st.sample, st.sampleRows);
      std::vector<double> s = smooth::smoothingScales(weights, actMax, chosen);
      if (llvm::Error err = applyInputScales(g, s, *store))
        return fail(llvm::toString(std::move(err)));
      g.linears.front().op->setAttr(kSmoothQuantAlphaAttr,
                                    Builder(module.getContext()).getF32FloatAttr(float(chosen)));
    }
  }
};

} // namespace
} // namespace qopt
