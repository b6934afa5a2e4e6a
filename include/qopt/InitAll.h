//===- InitAll.h - register everything qopt tools need ----------*- C++ -*-===//
#ifndef QOPT_INITALL_H
#define QOPT_INITALL_H

#include "mlir/IR/DialectRegistry.h"

namespace qopt {

/// The dialects qnt programs use: qnt, func, quant, arith, tensor.
void registerAllDialects(mlir::DialectRegistry &registry);

/// Every qopt pass and pipeline, for qopt-opt and `qopt compile`.
void registerAllPasses();

/// glibc keeps freed buffers up to 32 MiB in the heap instead of unmapping
/// them: calibration frees and reallocates megabytes of activations per op
/// per sample, and each fresh mapping came back as page faults and zeroing
/// (a tenth of a 1.1B GPTQ run). Call once at the start of a tool.
void keepFreedMemoryForReuse();

} // namespace qopt

#endif
