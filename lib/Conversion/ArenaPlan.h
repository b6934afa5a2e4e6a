//===- ArenaPlan.h - static activation memory for the CPU program -*- C++ -*-===//
//
// Every activation of the forward function gets a fixed offset in one f32
// arena of `chunk` rows: values are placed in program order, first fit into
// the slices of values already dead (last use before the defining op), so
// the arena holds only what is live at once. Ops that generate no buffer of
// their own are "folded": a qnt.dynamic_quant whose users are all int8
// linears (the W8A8 kernel quantizes its input itself) and a quant.qcast
// whose users are dequantize casts (the fake-quant loop reads its input).
// A fused qnt.swiglu_linear also gets a temporary slice for its up
// projection, live only at the op.
//
//===----------------------------------------------------------------------===//
#ifndef QOPT_LIB_CONVERSION_ARENAPLAN_H
#define QOPT_LIB_CONVERSION_ARENAPLAN_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/Support/Error.h"

namespace qopt::cpu {

struct ArenaPlan {
  llvm::DenseMap<mlir::Value, int64_t> offsets; // in floats
  llvm::DenseSet<mlir::Operation *> folded;
  llvm::DenseMap<mlir::Operation *, int64_t> temps; // scratch slices of fused ops
  mlir::Value returned; // written straight into the caller's logits
  int64_t totalFloats = 0;
  int64_t unplannedFloats = 0; // without reuse
};

llvm::Expected<ArenaPlan> planArena(mlir::func::FuncOp forward, int64_t chunk);

} // namespace qopt::cpu

#endif
