//===- MixedPrecision.cpp - the qnt-mixed-precision pass -------------------===//
//
// Sensitivity: for each linear and candidate scheme, the mean KL divergence of
// the next-token distribution from the float model's on calibration sequences
// when only that linear is quantized (RTN), measured by
// swapping its weights inside one executor. With quantizer=gptq the candidate
// weights come from GPTQ on the float model's Hessians: GPTQ shrinks the error
// of coarse groups much more than that of fine ones, so RTN sensitivities
// misjudge which linears a following qnt-gptq can afford to give fewer bits.
// Assignment: see BitAllocation.h.
//
//===----------------------------------------------------------------------===//
#include "passes/Common/QuantPatterns.h"
#include "passes/GPTQ/GPTQSolver.h"
#include "passes/MixedPrecision/BitAllocation.h"
#include "passes/Passes.h"

#include "qopt/Support/Error.h"

#include "mlir/IR/Builders.h"
#include "llvm/Support/raw_ostream.h"

namespace qopt {
#define GEN_PASS_DEF_QNTMIXEDPRECISION
#include "passes/Passes.h.inc"
} // namespace qopt

using namespace mlir;

namespace qopt {
namespace {

/// "int4:g64:asym" -> scheme; "nf4:g64" also accepted.
llvm::Expected<qmath::Scheme> parseCandidate(llvm::StringRef text) {
  llvm::SmallVector<llvm::StringRef, 3> parts;
  text.trim().split(parts, ':');
  qmath::Scheme s;
  llvm::StringRef kind = parts[0];
  int64_t groupSize = 0;
  bool symmetric = true;
  if (kind.consume_front("nf")) {
    s.format = qnt::WeightFormat::NF4;
  } else if (!kind.consume_front("int")) {
    return makeError("candidate '" + text + "' should look like int4:g64:asym");
  }
  if (kind.getAsInteger(10, s.bits))
    return makeError("candidate '" + text + "' has no bit width");
  if (parts.size() > 1) {
    llvm::StringRef g = parts[1];
    if (!g.consume_front("g") || g.getAsInteger(10, groupSize))
      return makeError("candidate '" + text + "': group should be gN (g0 = per channel)");
  }
  if (parts.size() > 2) {
    if (parts[2] != "sym" && parts[2] != "asym")
      return makeError("candidate '" + text + "': expected sym or asym");
    symmetric = parts[2] == "sym";
  }
  s.groupSize = groupSize;
  s.symmetric = symmetric;
  std::string why = s.validate();
  if (!why.empty())
    return makeError("candidate '" + text + "': " + why);
  return s;
}

struct QntMixedPrecisionPass : QuantPass<QntMixedPrecisionPass, impl::QntMixedPrecisionBase> {
  using QuantPass::QuantPass;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    std::vector<qmath::Scheme> schemes;
    llvm::SmallVector<llvm::StringRef> texts;
    llvm::StringRef(candidates).split(texts, ',', -1, false);
    for (llvm::StringRef t : texts) {
      auto s = parseCandidate(t);
      if (!s)
        return fail(llvm::toString(s.takeError()));
      schemes.push_back(*s);
    }
    if (schemes.empty())
      return fail("no candidate schemes given");
    if (samples <= 0)
      return fail("samples must be positive");
    if (quantizer != "rtn" && quantizer != "gptq")
      return fail("quantizer must be rtn or gptq, not '" + quantizer + "'");
    auto store = requireStore();
    auto calib = requireCalibration();
    if (!store || !calib)
      return;
    std::vector<TargetLinear> linears = collectFloatLinears(module);
    if (linears.empty())
      return;

    // Bits per weight of every candidate on every linear (shapes matter:
    // ragged groups cost more).
    std::vector<std::vector<float>> weights;
    for (TargetLinear &l : linears) {
      auto w = readWeight(*store, l.name);
      if (!w)
        return fail(llvm::toString(w.takeError()));
      weights.push_back(std::move(*w));
    }
    double minBpw = 0, totalWeights = 0;
    for (size_t i = 0; i < linears.size(); ++i) {
      double cheapest = INFINITY;
      for (const qmath::Scheme &s : schemes)
        cheapest = std::min(cheapest, qmath::QuantizedWeight(s, linears[i].rows, linears[i].cols)
                                          .bitsPerWeight());
      minBpw += cheapest * double(linears[i].rows * linears[i].cols);
      totalWeights += double(linears[i].rows * linears[i].cols);
    }
    if (targetBpw * totalWeights < minBpw - 1e-9)
      return fail("target-bpw " + std::to_string(double(targetBpw)) +
                  " is below the cheapest candidate's " + std::to_string(minBpw / totalWeights));

    ActivationMap stats;
    if (quantizer == "gptq") {
      RecordOptions record;
      record.hessian = true;
      record.onSample = calibrationProgress();
      auto recorded = recordAtLinears(module, store, *calib, linears, record);
      if (!recorded)
        return fail(llvm::toString(recorded.takeError()));
      stats = std::move(*recorded);
    }
    gptq::Options gptqOptions;
    gptqOptions.actOrder = true;
    gptqOptions.clipSearch = true;

    // Sensitivity is calibration, not the oracle: fast kernels.
    auto exec = Executor::create(module, store, calibrationExecOptions(*calib));
    if (!exec)
      return fail(llvm::toString(exec.takeError()));
    auto reference = positionLogProbs(**exec, *calib, samples);
    if (!reference)
      return fail(llvm::toString(reference.takeError()));
    std::vector<std::vector<mixed::Option>> table(linears.size());
    // One factorization per input, shared by every scheme of its linears;
    // linears reading one input are adjacent (q/k/v, gate/up), so only the
    // latest is kept (a model's worth would double the Hessians' memory).
    Value factoredInput;
    gptq::Factorization factorization;
    for (size_t i = 0; i < linears.size(); ++i) {
      TargetLinear &l = linears[i];
      gptq::Factorization *factors = nullptr;
      if (quantizer == "gptq") {
        if (factoredInput != l.op.getInput()) {
          auto f = gptq::factorize(stats[l.op.getInput()].hessian(), l.cols, gptqOptions,
                                   &(*exec)->threadPool());
          if (!f)
            return fail(l.name + ": " + llvm::toString(f.takeError()));
          factorization = std::move(*f);
          factoredInput = l.op.getInput();
        }
        factors = &factorization;
      }
      for (const qmath::Scheme &s : schemes) {
        qmath::QuantizedWeight q(s, l.rows, l.cols);
        if (factors) {
          auto result = gptq::quantize(s, weights[i].data(), l.rows, l.cols, *factors,
                                       gptqOptions, &(*exec)->threadPool());
          if (!result)
            return fail(l.name + ": " + llvm::toString(result.takeError()));
          q = std::move(result->weight);
        } else {
          q = qmath::quantizeRTN(s, weights[i].data(), l.rows, l.cols);
        }
        std::vector<float> deq = q.dequantize();
        (*exec)->overrideParameter(l.weight, deq.data());
        auto kl = meanKlDivergence(**exec, *calib, *reference);
        (*exec)->overrideParameter(l.weight, nullptr);
        if (!kl)
          return fail(llvm::toString(kl.takeError()));
        table[i].push_back({q.bitsPerWeight() * double(l.rows * l.cols), *kl});
      }
      progress(int64_t(i + 1), int64_t(linears.size()), "linears measured (" + l.name + ")");
    }
    std::vector<size_t> pick = mixed::allocate(table, targetBpw * totalWeights);
    Builder b(module.getContext());
    for (size_t i = 0; i < linears.size(); ++i) {
      linears[i].op->setAttr(kWeightSchemeAttr, schemes[pick[i]].toAttr(b.getContext()));
      linears[i].op->setAttr(kSensitivityAttr,
                             b.getF32FloatAttr(float(table[i][pick[i]].loss)));
    }
  }
};

} // namespace
} // namespace qopt
