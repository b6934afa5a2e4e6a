//===- ModelWeights.h - what a qnt module reads, for the exporters -*- C++ -*-===//
#ifndef QOPT_EXPORT_MODELWEIGHTS_H
#define QOPT_EXPORT_MODELWEIGHTS_H

#include "Qnt/IR/QntDialect.h"

#include "mlir/IR/BuiltinOps.h"

#include <string>
#include <vector>

namespace qopt {

/// One stored weight as the module reads it.
struct WeightUse {
  std::string name;
  std::vector<int64_t> shape;
  bool quantized = false;
  qnt::WeightQuantAttr scheme; // when quantized
  /// A tied classifier quantized on its own (qnt-quantize-lm-head): the
  /// output matrix, while the embedding keeps gathering float rows.
  bool tiedQuantizedClassifier = false;
};

struct ModelWeights {
  std::vector<WeightUse> uses; // module order, each name (and form) once
  /// The first op outside the Llama graph ("" when none).
  std::string foreignOp;
  /// Activation quantization (W8A8) lives in ops, not weights.
  bool quantizesActivations = false;
};

/// Walks `module`: its weights and whether it is a plain Llama graph.
ModelWeights collectWeights(mlir::ModuleOp module);

/// Rows of `bytes` (rows of equal size) reordered: out row r = in row from(r).
std::vector<uint8_t> permuteRows(const std::vector<uint8_t> &bytes, int64_t rows,
                                 const std::vector<int64_t> &from);

/// The row orders between rope pairings of a q or k projection of `heads`
/// heads: toInterleaved[r] is the rotate-half row that interleaved row r
/// comes from (r = h*hd + 2i + j <- h*hd + j*hd/2 + i); toRotateHalf the
/// inverse.
std::vector<int64_t> ropeRowsToInterleaved(int64_t rows, int64_t heads);
std::vector<int64_t> ropeRowsToRotateHalf(int64_t rows, int64_t heads);

} // namespace qopt

#endif
