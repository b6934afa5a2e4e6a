//===- QuantReport.h - what quantization did, per layer and overall -*- C++ -*-===//
#ifndef QOPT_DRIVER_QUANTREPORT_H
#define QOPT_DRIVER_QUANTREPORT_H

#include "qopt/Support/ParameterStore.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>
#include <string>
#include <vector>

namespace qopt {

struct LayerReport {
  std::string name;
  int64_t rows = 0, cols = 0;
  std::string scheme;     // "f32" when not quantized
  int64_t bits = 32;
  int64_t groupSize = 0;
  double bitsPerWeight = 32;
  double scaleMin = 0, scaleMax = 0, scaleMean = 0; // |scale|
  int64_t outliers = 0;
  std::optional<double> relError;
};

struct PassTiming {
  std::string pass;
  double seconds = 0;
  // The calibration forwards inside it (CalibrationClock differences).
  int64_t calibrationTokens = 0;
  double calibrationSeconds = 0;
};

struct QuantReport {
  std::string model, recipe, pipeline;
  std::vector<LayerReport> layers;
  int64_t linearWeights = 0;      // weights in all linears
  double linearBitsPerWeight = 0; // over all linears, scales counted
  int64_t floatBytes = 0;         // the input model's parameter bytes
  int64_t storedBytes = 0;        // the output's parameter bytes
  int64_t activationQuantPoints = 0;
  std::optional<double> pplBefore, pplAfter, nllBefore, nllAfter;
  // KL(float || quantized) per prediction and top-1 agreement, with --eval
  std::optional<double> klMean, klMax, top1Agreement;
  int64_t evalTokens = 0;
  double seconds = 0;
  // How the work was done, for reproducing it and sizing a machine for it.
  std::string calibrationFile; // empty without calibration
  int64_t calibrationSamples = 0, calibrationSeqLen = 0;
  std::vector<PassTiming> passTimes; // in pipeline order
  int64_t peakRssBytes = 0; // of the qopt process, at the end
};

/// The process's peak resident set so far (getrusage), in bytes.
int64_t peakResidentBytes();

/// Fills layers and sizes from the compiled module and its store.
llvm::Error describeQuantization(mlir::ModuleOp module, const ParameterStore &store,
                                 QuantReport &report);

void writeReportJson(const QuantReport &report, llvm::raw_ostream &os);
void printReportTable(const QuantReport &report, llvm::raw_ostream &os);

} // namespace qopt

#endif
