//===- Calibration.h - activation statistics from calibration text -*- C++ -*-===//
//
// The calibration facility every data-driven pass shares: run the (float or
// partly quantized) model over calibration sequences with the reference
// executor and record, at the input of chosen linears, per-channel absmax and
// mean |x|, the Hessian proxy X^T X (GPTQ, AWQ and SmoothQuant's error
// models) and an evenly strided sample of rows (observers, alpha search).
// Passes call it on the IR as it is when they run, so a pass after GPTQ sees
// the quantized earlier layers (true-sequential).
//
//===----------------------------------------------------------------------===//
#ifndef QOPT_EXEC_CALIBRATION_H
#define QOPT_EXEC_CALIBRATION_H

#include "qopt/Exec/Executor.h"

#include "mlir/IR/Value.h"
#include "llvm/ADT/DenseMap.h"

#include <cstdint>
#include <functional>
#include <vector>

namespace qopt {

/// Token sequences, each run from position 0 with a fresh KV cache.
struct CalibrationSet {
  std::vector<std::vector<int32_t>> samples;
  int64_t tokens() const {
    int64_t n = 0;
    for (const auto &s : samples)
      n += int64_t(s.size());
    return n;
  }
};

/// Cuts `stream` (encodeDocuments) into `count` consecutive windows of
/// `length` tokens from its start; errors when it is too short.
llvm::Expected<CalibrationSet> makeCalibrationSet(const std::vector<int32_t> &stream,
                                                  int64_t count, int64_t length);

struct ActivationStats {
  int64_t cols = 0;
  int64_t rows = 0;             // rows (tokens) seen
  std::vector<float> absMax;    // per channel
  std::vector<double> absSum;   // per channel
  std::vector<double> xtx;      // [cols, cols] sum of x x^T, lower triangle (i >= j)
  std::vector<float> sample;    // [sampleRows, cols]
  int64_t sampleRows = 0;
  bool nonFinite = false;       // a NaN or Inf was seen

  double meanAbs(int64_t c) const { return rows ? absSum[c] / double(rows) : 0.0; }
  /// GPTQ's H = 2 X^T X / rows (symmetric, [cols, cols]).
  std::vector<double> hessian() const;
};

struct RecordOptions {
  bool hessian = false;
  /// Keep up to this many rows of raw activations (0: none).
  int64_t maxSampleRows = 0;
  /// Called after each calibration sequence of a whole-model recording
  /// (progress lines of a pass whose one forward takes minutes).
  std::function<void(int64_t done, int64_t total)> onSample;
};

/// How calibration runs the executor: linears on the fast kernels, the KV
/// cache as long as the longest sample.
ExecOptions calibrationExecOptions(const CalibrationSet &calib);

/// What calibration forwards cost in this process so far: tokens run and
/// seconds spent in the executor (not in the passes' solves). The tool
/// takes differences around each pass for its report.
struct CalibrationClock {
  int64_t tokens = 0;
  double seconds = 0;
};
CalibrationClock calibrationForwardTotals();

using ActivationMap = llvm::DenseMap<mlir::Value, ActivationStats>;

/// Runs the module over `calib`, recording at the input of each op in
/// `linears` (qnt.linear). Linears that share an input share one record,
/// keyed by the input value. Each forward stops after the last of them.
/// Errors name the linear whose input held NaN or Inf.
llvm::Expected<ActivationMap> recordActivations(mlir::ModuleOp module,
                                                std::shared_ptr<ParameterStore> store,
                                                const CalibrationSet &calib,
                                                llvm::ArrayRef<mlir::Operation *> linears,
                                                const RecordOptions &options);

/// Every calibration sample's forward, advanced in stages: all samples run
/// up to a linear and pause there, a pass uses what was recorded at its
/// input and may change weights (executor().overrideParameter) before the
/// samples go on. True-sequential GPTQ then costs one forward of the
/// calibration set, not one per step, and holds one step's statistics at a
/// time. Linears run on the fast kernels (ExecOptions::fastLinear).
class StagedCalibration {
public:
  static llvm::Expected<std::unique_ptr<StagedCalibration>>
  create(mlir::ModuleOp module, std::shared_ptr<ParameterStore> store,
         std::shared_ptr<const CalibrationSet> calib);

  /// Runs every sample up to `stop` (an op of the entry block, not run)
  /// and records the statistics of `input`, a value `stop` reads. Errors
  /// when a sample ends before `stop` or `input` holds NaN or Inf.
  llvm::Expected<ActivationStats> advanceTo(mlir::Operation *stop, mlir::Value input,
                                            const RecordOptions &options);
  Executor &executor() { return *exec; }
  int64_t tokens() const { return calib->tokens(); }

private:
  StagedCalibration() = default;
  std::unique_ptr<Executor> exec;
  std::shared_ptr<const CalibrationSet> calib; // the cursors' tokens live here
  std::vector<Executor::CursorPtr> cursors;
};

/// Log-probabilities at every position of the first `count` sequences of
/// `calib` (all when count <= 0), one vector per sequence: the reference
/// that meanKlDivergence compares a modified model against.
llvm::Expected<std::vector<std::vector<float>>>
positionLogProbs(Executor &exec, const CalibrationSet &calib, int64_t count);

/// Mean KL(reference || model) per position over the sequences `reference`
/// was taken on. Unlike an NLL difference it is never negative and does not
/// depend on whether the labels happen to favour the distortion, so small
/// distortions rank reliably on few sequences.
llvm::Expected<double> meanKlDivergence(Executor &exec, const CalibrationSet &calib,
                                        const std::vector<std::vector<float>> &reference);

} // namespace qopt

#endif
