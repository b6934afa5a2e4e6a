//===- QntToLLVM.cpp - qnt forward function to CPU code --------------------===//
//
// Cpu/ProgramBuilder builds @qopt_forward (each op family lowered in its own
// Cpu/Lower*Ops.cpp); the upstream conversions here take it to the LLVM
// dialect.
//
//===----------------------------------------------------------------------===//
#include "qopt/Conversion/QntToLLVM.h"
#include "Cpu/ProgramBuilder.h"
#include "qopt/Support/Error.h"

#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVMPass.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

using namespace mlir;

namespace qopt::cpu {

llvm::Expected<CpuProgram> buildCpuProgram(ModuleOp qntModule, const CpuOptions &options) {
  if (options.chunk < 1)
    return makeError("chunk must be at least 1");
  MLIRContext *ctx = qntModule.getContext();
  ctx->loadDialect<LLVM::LLVMDialect, func::FuncDialect, scf::SCFDialect, arith::ArithDialect,
                   math::MathDialect, cf::ControlFlowDialect>();
  return ProgramBuilder(qntModule, options).build();
}

llvm::Expected<CpuProgram> lowerToCpu(ModuleOp qntModule, const CpuOptions &options) {
  auto program = buildCpuProgram(qntModule, options);
  if (!program)
    return program.takeError();
  PassManager pm(qntModule.getContext());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  if (failed(pm.run(*program->module)))
    return makeError("lowering the CPU program to the LLVM dialect failed");
  return program;
}

} // namespace qopt::cpu
