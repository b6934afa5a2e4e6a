//===- Fusion.h - what the fusion passes share ------------------*- C++ -*-===//
#ifndef QOPT_PASSES_FUSION_FUSION_H
#define QOPT_PASSES_FUSION_FUSION_H

#include "mlir/IR/Operation.h"

namespace qopt {

/// Makes `weight` available before `before` (same block): true when it
/// already is, or when it is a qnt.param / qnt.qparam that could be moved up.
bool hoistWeightBefore(mlir::Value weight, mlir::Operation *before);

} // namespace qopt

#endif
