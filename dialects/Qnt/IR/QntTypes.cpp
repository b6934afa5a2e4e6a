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
  if (!isa<FloatType>(elementType))
    return emitError() << "kv_cache element type must be a float type, got "
                       << elementType;
  return success();
}
