//===- QntTypes.cpp - qnt types --------------------------------------------===//
#include "Qnt/IR/QntDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace qopt::qnt;

#define GET_TYPEDEF_CLASSES
#include "Qnt/IR/QntTypes.cpp.inc"

void QntDialect::registerTypes() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "Qnt/IR/QntTypes.cpp.inc"
      >();
}

LogicalResult KVCacheType::verify(function_ref<InFlightDiagnostic()> emitError,
                                  int64_t layers, int64_t maxSeqLen,
                                  int64_t kvHeads, int64_t headDim,
                                  Type elementType) {
  if (layers <= 0 || maxSeqLen <= 0 || kvHeads <= 0 || headDim <= 0)
    return emitError() << "kv_cache dimensions must be positive, got layers="
                       << layers << " max_seq_len=" << maxSeqLen
                       << " kv_heads=" << kvHeads << " head_dim=" << headDim;
  // i8: symmetric int8 codes with one f32 scale per stored (position, kv
  // head) row of head_dim values (qnt-kv-cache)
  if (!isa<FloatType>(elementType) && !elementType.isSignlessInteger(8))
    return emitError() << "kv_cache element type must be a float type or i8, got "
                       << elementType;
  return success();
}

LogicalResult WeightQuantAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                      WeightFormat format, int64_t bits, int64_t groupSize,
                                      bool symmetric, bool doubleQuant, int64_t outliers) {
  if (format == WeightFormat::NF4) {
    if (bits != 4)
      return emitError() << "nf4 weights have 4 bits, got bits=" << bits;
  } else if (bits < 2 || bits > 8) {
    return emitError() << "int weights take 2 to 8 bits, got bits=" << bits;
  }
  if (groupSize < -1)
    return emitError() << "group_size must be positive, 0 (per channel) or -1 (per "
                          "tensor), got "
                       << groupSize;
  if (doubleQuant && format != WeightFormat::NF4)
    return emitError() << "double_quant applies to nf4 weights only";
  if (outliers < 0)
    return emitError() << "outliers must be >= 0, got " << outliers;
  return success();
}
