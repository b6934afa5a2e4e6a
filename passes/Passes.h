//===- Passes.h - qopt passes -----------------------------------*- C++ -*-===//
#ifndef QOPT_PASSES_PASSES_H
#define QOPT_PASSES_PASSES_H

#include "Qnt/IR/QntDialect.h"

#include "mlir/Dialect/Quant/IR/Quant.h"
#include "mlir/Pass/Pass.h"

namespace qopt {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

} // namespace qopt

#endif
