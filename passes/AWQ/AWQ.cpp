//===- AWQ.cpp - the qnt-awq pass ------------------------------------------===//
//
// Activation-aware weight quantization (Lin et al. 2023): protect the input
// channels that see large activations by scaling them up in the weights (and
// down in the producer), with the scale exponent searched on the quantized
// output error; then search per-group clipping. Errors are measured with the
// calibration Hessian, |D X^T|^2 = tr(D X^T X D^T), so no activations are
// kept beyond X^T X.
//
//===----------------------------------------------------------------------===//
#include "passes/AWQ/AWQSearch.h"
#include "passes/Common/QuantPatterns.h"
#include "passes/Passes.h"

namespace qopt {
#define GEN_PASS_DEF_QNTAWQ
#include "passes/Passes.h.inc"
} // namespace qopt

using namespace mlir;

namespace qopt {
namespace {

struct QntAWQPass : QuantPass<QntAWQPass, impl::QntAWQBase> {
  using QuantPass::QuantPass;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto scheme = parseScheme(format, bits, groupSize, symmetric);
    if (!scheme)
      return fail(llvm::toString(scheme.takeError()));
    if (grid < 1)
      return fail("grid must be at least 1, got " + llvm::Twine(int64_t(grid)));
    if (maxShrink < 0 || maxShrink >= 1)
      return fail("max-shrink must be in [0, 1), got " + std::to_string(double(maxShrink)));
    auto store = requireStore();
    auto calib = requireCalibration();
    if (!store || !calib)
      return;

    std::vector<TargetLinear> linears = collectFloatLinears(module);
    RecordOptions record;
    record.hessian = true;
    record.onSample = calibrationProgress();
    auto stats = recordAtLinears(module, store, *calib, linears, record);
    if (!stats)
      return fail(llvm::toString(stats.takeError()));

    // 1. Scale search per foldable group; remember s to rescale H later.
    llvm::DenseMap<Value, std::vector<double>> inputScales;
    std::vector<ScaleGroup> groups = findScaleGroups(linears);
    int64_t done = 0;
    for (ScaleGroup &g : groups) {
      const ActivationStats &st = (*stats)[g.input];
      std::vector<double> h = st.hessian(), meanAbs(g.channels);
      for (int64_t c = 0; c < g.channels; ++c)
        meanAbs[c] = st.meanAbs(c);
      std::vector<awq::SearchLinear> members;
      for (TargetLinear &l : g.linears) {
        auto w = readWeight(*store, l.name);
        if (!w)
          return fail(llvm::toString(w.takeError()));
        members.push_back({schemeFor(l.op, *scheme), std::move(*w), l.rows, l.cols});
      }
      std::vector<double> s = awq::searchScales(members, meanAbs, h, grid);
      if (llvm::Error err = applyInputScales(g, s, *store))
        return fail(llvm::toString(std::move(err)));
      inputScales[g.input] = std::move(s);
      progress(++done, int64_t(groups.size()), "scale groups (" + g.linears.front().name + ")");
    }

    // 2. Clipping search on every linear, with H of its (scaled) input.
    if (!clip)
      return;
    for (TargetLinear &l : linears) {
      std::vector<double> h = (*stats)[l.op.getInput()].hessian();
      auto it = inputScales.find(l.op.getInput());
      if (it != inputScales.end())
        for (int64_t i = 0; i < l.cols; ++i)
          for (int64_t j = 0; j < l.cols; ++j)
            h[i * l.cols + j] /= it->second[i] * it->second[j];
      auto w = readWeight(*store, l.name);
      if (!w)
        return fail(llvm::toString(w.takeError()));
      awq::clipWeights(schemeFor(l.op, *scheme), *w, l.rows, l.cols, h, maxShrink, grid);
      writeWeight(*store, l.weight, std::move(*w));
    }
  }
};

} // namespace
} // namespace qopt
