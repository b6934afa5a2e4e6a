//===- LinearOps.h - questions asked of the linear-family ops ---*- C++ -*-===//
//
// qnt.linear, qnt.multi_linear and qnt.swiglu_linear all multiply one input
// by weights (LinearFamilyOpInterface, QntInterfaces.td). The fusion passes
// and the CPU lowering ask the same things of them: which weights read a
// value, and whether a weight is int8 codes that the W8A8 kernels take.
//
//===----------------------------------------------------------------------===//
#ifndef QNT_UTILS_LINEAROPS_H
#define QNT_UTILS_LINEAROPS_H

#include "Qnt/IR/QntDialect.h"

#include "llvm/ADT/SmallVector.h"

namespace qopt::qnt {

/// The weights of `op` when it is a linear-family op whose input is `input`;
/// empty otherwise (other ops, or `input` used as a weight).
llvm::SmallVector<mlir::Value, 3> weightsReading(mlir::Operation *op, mlir::Value input);

/// A qnt.qparam of int8 integer codes (with LLM.int8 outlier columns only
/// when `allowOutliers`).
bool isInt8Weight(mlir::Value weight, bool allowOutliers);

/// Every user of `v` (at least one) is a linear-family op reading it as
/// input through int8 weights.
bool feedsOnlyInt8Linears(mlir::Value v, bool allowOutliers);

} // namespace qopt::qnt

#endif
