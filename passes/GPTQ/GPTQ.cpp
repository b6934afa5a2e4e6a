//===- GPTQ.cpp - the qnt-gptq pass ----------------------------------------===//
//
// Drives GPTQSolver over the model: linears that read the same input form one
// step (q/k/v, then o, then gate/up, then down, layer by layer). With
// true-sequential, each step's Hessian is recorded on the model whose earlier
// steps are already quantized, so every linear corrects for the error of
// everything before it. The calibration forward runs once, in stages
// (StagedCalibration): every sample pauses before a step, the step is
// solved and its dequantized weights handed to the executor, and the
// samples go on; memory holds one step's Hessian at a time.
//
//===----------------------------------------------------------------------===//
#include "passes/Common/QuantPatterns.h"
#include "passes/GPTQ/GPTQSolver.h"
#include "passes/Passes.h"

#include "llvm/Support/raw_ostream.h"

namespace qopt {
#define GEN_PASS_DEF_QNTGPTQ
#include "passes/Passes.h.inc"
} // namespace qopt

using namespace mlir;

namespace qopt {
namespace {

struct QntGPTQPass : QuantPass<QntGPTQPass, impl::QntGPTQBase> {
  using QuantPass::QuantPass;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto scheme = parseScheme(format, bits, groupSize, symmetric);
    if (!scheme)
      return fail(llvm::toString(scheme.takeError()));
    if (damp <= 0 || damp >= 1)
      return fail("damp must be in (0, 1), got " + std::to_string(double(damp)));
    if (blockSize <= 0)
      return fail("block-size must be positive, got " + llvm::Twine(int64_t(blockSize)));
    auto store = requireStore();
    if (!store)
      return;
    auto calib = requireCalibration();
    if (!calib)
      return;

    // Steps: linears sharing an input, in program order.
    std::vector<std::vector<Operation *>> steps;
    {
      llvm::DenseMap<Value, size_t> byInput;
      for (TargetLinear &l : collectFloatLinears(module)) {
        auto [it, inserted] = byInput.try_emplace(l.op.getInput(), steps.size());
        if (inserted)
          steps.emplace_back();
        steps[it->second].push_back(l.op);
      }
    }
    gptq::Options options;
    options.damp = damp;
    options.blockSize = blockSize;
    options.actOrder = actOrder;
    options.staticGroups = staticGroups;
    options.clipSearch = clipSearch;

    RecordOptions record;
    record.hessian = true;
    auto staged = StagedCalibration::create(module, store, calib);
    if (!staged)
      return fail(llvm::toString(staged.takeError()));
    Executor &exec = (*staged)->executor();
    int64_t total = 0, done = 0;
    for (auto &step : steps)
      total += int64_t(step.size());
    // Solved linears whose IR still names the float weight: the samples'
    // forwards have yet to run them (with true-sequential, on the
    // dequantized values given to the executor).
    struct Pending {
      TargetLinear target;
      qmath::QuantizedWeight weight;
      double error;
      std::vector<float> dequantized;
    };
    std::vector<Pending> pending;
    auto rewritePassed = [&](Operation *position) {
      std::vector<Pending> later;
      for (Pending &p : pending) {
        if (position && !p.target.op->isBeforeInBlock(position)) {
          later.push_back(std::move(p));
          continue;
        }
        if (position) // the executor still runs: it must not keep the erased op
          exec.forgetParameter(p.target.weight);
        replaceWithQuantized(p.target, p.weight, *store, p.error);
      }
      pending = std::move(later);
    };
    for (auto &step : steps) {
      Value input = cast<qnt::LinearOp>(step.front()).getInput();
      auto stats = (*staged)->advanceTo(step.front(), input, record);
      if (!stats)
        return fail(llvm::toString(stats.takeError()));
      rewritePassed(step.front());
      // one factorization for the step: its linears share the input
      std::vector<double> h = stats->hessian();
      auto factors = gptq::factorize(h, stats->cols, options, &exec.threadPool());
      if (!factors)
        return fail(
            cast<qnt::LinearOp>(step.front()).getWeight().getDefiningOp<qnt::ParamOp>().getName() +
            ": " + llvm::toString(factors.takeError()));
      for (Operation *op : step) {
        auto linear = cast<qnt::LinearOp>(op);
        auto param = linear.getWeight().getDefiningOp<qnt::ParamOp>();
        auto type = param.getType();
        TargetLinear target{linear, param, param.getName().str(), type.getDimSize(0),
                            type.getDimSize(1)};
        auto w = readWeight(*store, target.name);
        if (!w)
          return fail(llvm::toString(w.takeError()));
        qmath::Scheme s = schemeFor(linear, *scheme);
        auto result =
            gptq::quantize(s, w->data(), target.rows, target.cols, *factors, options,
                           &exec.threadPool());
        if (!result)
          return fail(target.name + ": " + llvm::toString(result.takeError()));
        if (result->dampRetries > 0)
          linear.emitWarning() << "qnt-gptq: " << target.name
                               << ": Hessian indefinite at damp " << damp
                               << ", used damp " << result->dampUsed;
        std::vector<float> deq = result->weight.dequantize();
        double err = relativeOutputError(w->data(), deq.data(), target.rows, target.cols, h);
        if (trueSequential) // later steps see this linear quantized
          exec.overrideParameter(param, deq.data());
        else
          deq.clear();
        pending.push_back({target, std::move(result->weight), err, std::move(deq)});
        progress(++done, total, "linears (" + target.name + ")");
      }
    }
    staged->reset(); // no forward runs past here: every solved linear is rewritten
    rewritePassed(/*position=*/nullptr);
  }
};

} // namespace
} // namespace qopt
