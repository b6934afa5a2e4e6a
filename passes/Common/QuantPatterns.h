//===- QuantPatterns.h - what quantization passes share ----------*- C++ -*-===//
//
// Finding the linears a pass rewrites, the places a per-channel input scale
// can be folded into (SmoothQuant, AWQ), reading and writing their weights
// through the dialect's parameter store, and swapping a float weight for a
// qnt.qparam.
//
//===----------------------------------------------------------------------===//
#ifndef QOPT_PASSES_COMMON_QUANTPATTERNS_H
#define QOPT_PASSES_COMMON_QUANTPATTERNS_H

#include "Qnt/IR/QntDialect.h"
#include "Qnt/Utils/QuantScheme.h"
#include "qopt/Exec/Calibration.h"
#include "qopt/Support/ParameterStore.h"
#include "qopt/Support/Progress.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/Pass.h"

#include <memory>
#include <string>
#include <vector>

namespace qopt {


/// A qnt.linear whose weight is a float qnt.param.
struct TargetLinear {
  qnt::LinearOp op;
  qnt::ParamOp weight;
  std::string name;
  int64_t rows = 0, cols = 0;
};

/// Every such linear in the module's forward function, in program order.
/// (The classifier is a qnt.lm_head and is not included.)
std::vector<TargetLinear> collectFloatLinears(mlir::ModuleOp module);

/// recordActivations at the inputs of `linears`.
llvm::Expected<ActivationMap> recordAtLinears(mlir::ModuleOp module,
                                              std::shared_ptr<ParameterStore> store,
                                              const CalibrationSet &calib,
                                              const std::vector<TargetLinear> &linears,
                                              const RecordOptions &options);

/// What every quantization pass shares on top of its generated base
/// (impl::QntXBase): errors that start with the pass's flag name and land
/// on the module, and the parameter store and calibration data the tool
/// attached, each with the standard message when missing.
///   struct QntXPass : QuantPass<QntXPass, impl::QntXBase> { ... };
template <typename Derived, template <typename> class GeneratedBase>
class QuantPass : public GeneratedBase<Derived> {
  using Generated = GeneratedBase<Derived>;

public:
  using Generated::Generated;

protected:
  /// "PASS: why" on the module, and the pass fails.
  void fail(const llvm::Twine &why) {
    this->getOperation().emitError() << this->getArgument() << ": " << why;
    this->signalPassFailure();
  }
  /// The attached store; null (the error emitted, the pass failed) if none.
  std::shared_ptr<ParameterStore> requireStore();
  /// The attached calibration data; null (error emitted, failed) if none.
  std::shared_ptr<const CalibrationSet> requireCalibration();
  /// `done` of `total` units finished, the last `what` (to the tool's sink).
  void progress(int64_t done, int64_t total, llvm::StringRef what) {
    auto *qnt = this->getOperation().getContext()->template getOrLoadDialect<qnt::QntDialect>();
    reportProgress(qnt->getProgressSink(), this->getArgument(), done, total, what);
  }
  /// RecordOptions::onSample for a whole-model recording: its progress.
  std::function<void(int64_t, int64_t)> calibrationProgress() {
    return [this](int64_t done, int64_t total) { progress(done, total, "calibration sequences"); };
  }
};

/// The store the tool attached, or an error emitted on the module.
std::shared_ptr<ParameterStore> requireStore(mlir::ModuleOp module, llvm::StringRef pass);
/// The calibration set the tool attached, or an error emitted on the module.
std::shared_ptr<const CalibrationSet> requireCalibration(mlir::ModuleOp module,
                                                         llvm::StringRef pass);

template <typename Derived, template <typename> class GeneratedBase>
std::shared_ptr<ParameterStore> QuantPass<Derived, GeneratedBase>::requireStore() {
  auto store = qopt::requireStore(this->getOperation(), this->getArgument());
  if (!store)
    this->signalPassFailure();
  return store;
}

template <typename Derived, template <typename> class GeneratedBase>
std::shared_ptr<const CalibrationSet> QuantPass<Derived, GeneratedBase>::requireCalibration() {
  auto calib = qopt::requireCalibration(this->getOperation(), this->getArgument());
  if (!calib)
    this->signalPassFailure();
  return calib;
}

/// A float weight as f32 values (errors on missing tensors or NaN/Inf).
llvm::Expected<std::vector<float>> readWeight(const ParameterStore &store, llvm::StringRef name);
/// Stores rewritten f32 values for `param` (under its name and shape) and
/// makes its IR type f32 to match: a bf16 / f16 checkpoint's weight that a
/// pass rescales is kept at full precision, not rounded back.
void writeWeight(ParameterStore &store, qnt::ParamOp param, std::vector<float> values);

/// The scheme for `linear`: its kWeightSchemeAttr if set, else `fallback`.
qmath::Scheme schemeFor(qnt::LinearOp linear, const qmath::Scheme &fallback);

/// Stores `q` and makes the linear read a qnt.qparam of it (erasing the
/// float qnt.param when nothing else uses it).
void replaceWithQuantized(TargetLinear &target, const qmath::QuantizedWeight &q,
                          ParameterStore &store, double relError);

/// |(W - Q) X|^2 / |W X|^2 with H ~ X^T X, or |W - Q|^2 / |W|^2 when H is
/// empty. W and Q are [rows, cols]. With H, matrices of more than
/// kOutputErrorRows rows are measured on that many evenly spaced rows (an
/// estimate for the report: the exact form costs rows x cols^2, hours for a
/// 1.1B model's MLP).
constexpr int64_t kOutputErrorRows = 64;
double relativeOutputError(const float *w, const float *q, int64_t rows, int64_t cols,
                           const std::vector<double> &h);

/// Linears that read one value whose per-channel scale can be folded into
/// the op producing it: an rms_norm (scale its weight) or a linear whose
/// output channels feed it one to one (scale its weight rows): w3 before
/// swiglu -> w2, and wv before attention -> wo when every query head has its
/// own KV head.
struct ScaleGroup {
  mlir::Value input;
  std::vector<TargetLinear> linears;
  enum class Fold { NormWeight, ProducerRows } fold;
  qnt::ParamOp foldParam;
  std::string foldName;
  std::vector<int64_t> foldShape;
  int64_t channels = 0;
  std::string describe() const;
};
std::vector<ScaleGroup> findScaleGroups(const std::vector<TargetLinear> &linears);

/// Divides the fold target by s and multiplies the linears' input columns by
/// s: the float function is unchanged, the linears' inputs become x / s.
llvm::Error applyInputScales(const ScaleGroup &group, llvm::ArrayRef<double> s,
                             ParameterStore &store);

/// Parses a pass's scheme options; the error names the offending option.
llvm::Expected<qmath::Scheme> parseScheme(llvm::StringRef format, int64_t bits,
                                          int64_t groupSize, bool symmetric,
                                          bool doubleQuant = false);

} // namespace qopt

#endif
