//===- InitAll.cpp - one registration point for every qopt tool ------------===//
#include "qopt/InitAll.h"

#include "Qnt/IR/QntDialect.h"
#include "passes/Passes.h"
#include "qopt/Pipelines/Recipes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Quant/IR/Quant.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace qopt {

void registerAllDialects(mlir::DialectRegistry &registry) {
  registry.insert<qnt::QntDialect, mlir::func::FuncDialect, mlir::arith::ArithDialect,
                  mlir::quant::QuantDialect, mlir::tensor::TensorDialect>();
}

void registerAllPasses() {
  registerQoptPasses();
  registerQoptPipelines();
}

void keepFreedMemoryForReuse() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 32 << 20); // glibc's upper limit
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

} // namespace qopt
