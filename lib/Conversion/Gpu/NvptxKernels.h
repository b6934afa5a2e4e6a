//===- NvptxKernels.h - the NVPTX target's kernels as PTX --------*- C++ -*-===//
//
// The GPU kernels of the NVPTX target live in QntKernels.mlir and, for the
// tensor-core GEMMs, QntMmaKernels.mlir (upstream gpu / arith / math /
// memref / scf dialects, nvvm for mma.sync). This lowers them for one chip
// through convert-gpu-to-nvvm and gpu-module-to-binary (LLVM's NVPTX back
// end; libdevice from the CUDA toolkit for exp / sin / cos / pow) to PTX.
//
//===----------------------------------------------------------------------===//
#ifndef QOPT_LIB_CONVERSION_GPU_NVPTXKERNELS_H
#define QOPT_LIB_CONVERSION_GPU_NVPTXKERNELS_H

namespace qopt::gpu {
extern const char *kQntKernelsSource;    // QntKernels.mlir
extern const char *kQntMmaKernelsSource; // QntMmaKernels.mlir (tensor-core GEMMs)
} // namespace qopt::gpu

#endif
