//===- InitAll.h - register everything qopt tools need ----------*- C++ -*-===//
#ifndef QOPT_INITALL_H
#define QOPT_INITALL_H

#include "mlir/IR/DialectRegistry.h"

namespace qopt {

/// The dialects qnt programs use: qnt, func, quant, arith, tensor.
void registerAllDialects(mlir::DialectRegistry &registry);

/// Every qopt pass and pipeline, for qopt-opt and `qopt compile`.
void registerAllPasses();

} // namespace qopt

#endif
