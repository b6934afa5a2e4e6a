//===- ParamTypes.h - does a stored tensor fit a qnt.param type? -*- C++ -*-===//
#ifndef QOPT_SUPPORT_PARAMTYPES_H
#define QOPT_SUPPORT_PARAMTYPES_H

#include "qopt/Support/TensorView.h"

#include "mlir/IR/BuiltinTypes.h"

#include <string>

namespace qopt {

/// Empty when `stored` has the shape and element type of `type`; otherwise
/// "parameter 'NAME' is F32[4] in the store but the IR expects 'tensor<...>'".
std::string describeParamMismatch(llvm::StringRef name, mlir::RankedTensorType type,
                                  const TensorView &stored);

} // namespace qopt

#endif
