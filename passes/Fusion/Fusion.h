//===- Fusion.h - what the fusion passes share ------------------*- C++ -*-===//
#ifndef QOPT_PASSES_FUSION_FUSION_H
#define QOPT_PASSES_FUSION_FUSION_H

#include "mlir/IR/Operation.h"
#include "mlir/Pass/PassManager.h"

namespace qopt {

/// Makes `weight` available before `before` (same block): true when it
/// already is, or when it is a qnt.param / qnt.qparam that could be moved up.
bool hoistWeightBefore(mlir::Value weight, mlir::Operation *before);

/// qnt-fuse: swiglu, linears, residual-norm, norm-quant, in that order (the
/// later ones see the ops the earlier ones make).
void buildFusionPipeline(mlir::OpPassManager &pm);
void registerFusionPipeline();

} // namespace qopt

#endif
