//===- LLMInt8.cpp - the qnt-llm-int8 pass ---------------------------------===//
//
// LLM.int8() (Dettmers et al. 2022): vector-wise int8 for weights (per output
// row) and activations (per token), with the mixed-precision decomposition:
// input channels whose calibrated magnitude exceeds the threshold keep their
// activations and weight columns in 16 bit.
//
//===----------------------------------------------------------------------===//
#include "passes/Common/QuantPatterns.h"
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"

namespace qopt {
#define GEN_PASS_DEF_QNTLLMINT8
#include "passes/Passes.h.inc"
} // namespace qopt

using namespace mlir;

namespace qopt {
namespace {

struct QntLLMInt8Pass : QuantPass<QntLLMInt8Pass, impl::QntLLMInt8Base> {
  using QuantPass::QuantPass;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (!(threshold > 0))
      return fail("threshold must be positive, got " + std::to_string(double(threshold)));
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

    qmath::Scheme int8;
    int8.bits = 8;
    int8.groupSize = 0;
    OpBuilder b(module.getContext());
    llvm::DenseMap<Value, Value> quantizedInput;
    for (TargetLinear &l : linears) {
      Value input = l.op.getInput();
      const ActivationStats &st = (*stats)[input];
      std::vector<int32_t> outliers;
      for (int64_t c = 0; c < l.cols; ++c)
        if (st.absMax[c] > threshold)
          outliers.push_back(int32_t(c));
      auto w = readWeight(*store, l.name);
      if (!w)
        return fail(llvm::toString(w.takeError()));
      qmath::QuantizedWeight shell(int8, l.rows, l.cols);
      std::vector<float> rest = qmath::splitOutliers(shell, w->data(), outliers);
      qmath::QuantizedWeight q = qmath::quantizeRTN(int8, rest.data(), l.rows, l.cols);
      q.outlierIndex = shell.outlierIndex;
      q.outlierWeight = shell.outlierWeight;
      std::vector<float> deq = q.dequantize();
      replaceWithQuantized(l, q, *store,
                           relativeOutputError(w->data(), deq.data(), l.rows, l.cols,
                                               st.hessian()));
      // One per-token activation quantizer per distinct input.
      Value &qin = quantizedInput[input];
      if (!qin) {
        b.setInsertionPointAfterValue(input);
        std::vector<int64_t> keep(outliers.begin(), outliers.end());
        qin = qnt::DynamicQuantOp::create(b, input.getLoc(), input.getType(), input,
                                          b.getI64IntegerAttr(8),
                                          keep.empty() ? nullptr : b.getDenseI64ArrayAttr(keep));
      }
      l.op.getInputMutable().assign(qin);
    }
  }
};

} // namespace
} // namespace qopt
