//===- ParamTypes.cpp ------------------------------------------------------===//
#include "qopt/Support/ParamTypes.h"

#include "llvm/Support/raw_ostream.h"

namespace qopt {

static bool elementTypeMatches(mlir::Type elt, DType dtype) {
  return (elt.isF32() && dtype == DType::F32) || (elt.isF16() && dtype == DType::F16) ||
         (elt.isBF16() && dtype == DType::BF16) ||
         (elt.isInteger(32) && dtype == DType::I32) ||
         (elt.isInteger(8) && (dtype == DType::I8 || dtype == DType::U8));
}

std::string describeParamMismatch(llvm::StringRef name, mlir::RankedTensorType type,
                                  const TensorView &stored) {
  if (llvm::ArrayRef<int64_t>(stored.shape) == type.getShape() &&
      elementTypeMatches(type.getElementType(), stored.dtype))
    return "";
  std::string message;
  llvm::raw_string_ostream os(message);
  os << "parameter '" << name << "' is " << dtypeName(stored.dtype) << stored.shapeString()
     << " in the store but the IR expects '" << type << "'";
  return message;
}

} // namespace qopt
