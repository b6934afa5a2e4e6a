//===- NvptxKernels.cpp - QntKernels.mlir to PTX ---------------------------===//
#include "NvptxKernels.h"
#include "qopt/Conversion/QntToNVPTX.h"
#include "qopt/Support/Error.h"

#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVM.h"
#include "mlir/Conversion/GPUToNVVM/GPUToNVVM.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/NVVMToLLVM/NVVMToLLVM.h"
#include "mlir/Conversion/Passes.h"
#include "mlir/Conversion/UBToLLVM/UBToLLVM.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Utils/Utils.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/TargetSelect.h"

#include <cstdlib>

using namespace mlir;

namespace qopt::nvptx {

const std::vector<std::string> &supportedArchs() {
  static const std::vector<std::string> archs = {"sm_80", "sm_86", "sm_89", "sm_90", "sm_90a"};
  return archs;
}

/// The PTX ISA version each chip needs at least (sm_90a: PTX 8.0).
static const char *ptxFeatures(llvm::StringRef arch) {
  if (arch.starts_with("sm_90"))
    return "+ptx80";
  if (arch == "sm_89")
    return "+ptx78";
  return "+ptx70";
}

/// The CUDA toolkit: $QOPT_CUDA_PATH, $CUDA_PATH, or /usr/local/cuda.
static std::string cudaPath() {
  for (const char *var : {"QOPT_CUDA_PATH", "CUDA_PATH"})
    if (const char *v = std::getenv(var); v && *v)
      return v;
  return "/usr/local/cuda";
}

static void prepareContext(MLIRContext &ctx) {
  DialectRegistry registry;
  registry.insert<arith::ArithDialect, cf::ControlFlowDialect, func::FuncDialect,
                  mlir::gpu::GPUDialect, LLVM::LLVMDialect, NVVM::NVVMDialect,
                  math::MathDialect, memref::MemRefDialect, scf::SCFDialect>();
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  // convert-gpu-to-nvvm finds each dialect's LLVM patterns through these
  registerConvertFuncToLLVMInterface(registry);
  arith::registerConvertArithToLLVMInterface(registry);
  cf::registerConvertControlFlowToLLVMInterface(registry);
  registerConvertMathToLLVMInterface(registry);
  registerConvertMemRefToLLVMInterface(registry);
  NVVM::registerConvertGpuToNVVMInterface(registry);
  registerConvertNVVMToLLVMInterface(registry);
  ub::registerConvertUBToLLVMInterface(registry);
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerGPUDialectTranslation(registry);
  registerNVVMDialectTranslation(registry);
  ctx.appendDialectRegistry(registry);
  ctx.loadAllAvailableDialects();
  static bool once = [] {
    LLVMInitializeNVPTXTarget();
    LLVMInitializeNVPTXTargetInfo();
    LLVMInitializeNVPTXTargetMC();
    LLVMInitializeNVPTXAsmPrinter();
    registerGPUPasses();
    registerConversionPasses();
    registerTransformsPasses(); // canonicalize, cse
    return true;
  }();
  (void)once;
}

/// Fully unrolls every scf.for of `module` with constant bounds: the kernels
/// write them for per-lane work of a fixed size. In QntMmaKernels.mlir they
/// walk a warp's register tiles (fragments, accumulators in private
/// memory); unrolled, every index is a constant and LLVM keeps the tiles in
/// registers instead of local memory. In the 4-bit GEMV, the 16 bytes of a
/// block become constant shifts of the loaded words.
static LogicalResult unrollConstantLoops(mlir::gpu::GPUModuleOp module) {
  SmallVector<scf::ForOp> loops;
  module.walk([&](scf::ForOp loop) { // inner loops first
    if (loop.getStaticTripCount())
      loops.push_back(loop);
  });
  for (scf::ForOp loop : loops)
    if (failed(loopUnrollFull(loop)))
      return failure();
  return success();
}

/// Moves the functions of `from` into `into`, except declarations of helpers
/// `into` defines (QntMmaKernels.mlir declares the ones it shares with
/// QntKernels.mlir so that it parses and verifies on its own).
static void mergeKernels(mlir::gpu::GPUModuleOp from, mlir::gpu::GPUModuleOp into) {
  SymbolTable symbols(into);
  Block &body = into.getBodyRegion().front();
  OpBuilder builder(into.getContext());
  if (!body.empty() && body.back().hasTrait<OpTrait::IsTerminator>())
    builder.setInsertionPoint(&body.back());
  else
    builder.setInsertionPointToEnd(&body);
  for (Operation &op : llvm::make_early_inc_range(from.getBodyRegion().front())) {
    if (op.hasTrait<OpTrait::IsTerminator>())
      continue;
    auto fn = dyn_cast<func::FuncOp>(op);
    if (fn && fn.isDeclaration() && symbols.lookup(fn.getName()))
      continue;
    op.remove();
    builder.insert(&op);
  }
}

llvm::Expected<std::string> kernelsPtx(MLIRContext &ctx, llvm::StringRef arch,
                                       std::vector<std::string> *kernels) {
  const auto &archs = supportedArchs();
  if (std::find(archs.begin(), archs.end(), arch.str()) == archs.end())
    return makeError("--gpu-arch must be one of sm_80, sm_86, sm_89, sm_90, sm_90a, not '" +
                     arch + "'");
  prepareContext(ctx);
  std::string diagnostics;
  ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
    if (d.getSeverity() == DiagnosticSeverity::Error && diagnostics.empty())
      diagnostics = d.str();
    return success();
  });
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(gpu::kQntKernelsSource, &ctx);
  if (!module)
    return makeError("internal error: the GPU kernel library does not parse: " + diagnostics);
  OwningOpRef<ModuleOp> mma = parseSourceString<ModuleOp>(gpu::kQntMmaKernelsSource, &ctx);
  if (!mma)
    return makeError("internal error: the tensor-core kernels do not parse: " + diagnostics);
  std::string libdevice = cudaPath() + "/nvvm/libdevice/libdevice.10.bc";
  if (!llvm::sys::fs::exists(libdevice))
    return makeError("the NVPTX target needs the CUDA toolkit's libdevice, not found at " +
                     libdevice + " (set QOPT_CUDA_PATH)");
  auto kernelModule = module->lookupSymbol<mlir::gpu::GPUModuleOp>("qnt_kernels");
  if (!kernelModule)
    return makeError("internal error: the GPU kernel library has no gpu.module @qnt_kernels");
  auto mmaModule = mma->lookupSymbol<mlir::gpu::GPUModuleOp>("qnt_kernels");
  if (!mmaModule)
    return makeError("internal error: the tensor-core kernels have no gpu.module @qnt_kernels");
  mergeKernels(mmaModule, kernelModule);
  if (failed(unrollConstantLoops(kernelModule)))
    return makeError("internal error: a GPU kernel loop does not unroll");
  if (kernels)
    for (auto fn : kernelModule.getOps<mlir::gpu::GPUFuncOp>())
      if (fn.isKernel())
        kernels->push_back(fn.getName().str());
  auto target = NVVM::NVVMTargetAttr::get(&ctx, /*optLevel=*/3, "nvptx64-nvidia-cuda", arch,
                                          ptxFeatures(arch));
  kernelModule.setTargetsAttr(ArrayAttr::get(&ctx, {target}));

  PassManager pm(&ctx);
  std::string errors;
  llvm::raw_string_ostream errorStream(errors);
  // libdevice (exp, sqrt, sin, cos, pow) comes from the toolkit
  std::string pipeline = "gpu.module(canonicalize,cse,convert-scf-to-cf,convert-gpu-to-nvvm,"
                         "reconcile-unrealized-casts),"
                         "gpu-module-to-binary{format=isa toolkit=" +
                         cudaPath() + "}";
  if (failed(parsePassPipeline(pipeline, pm, errorStream)))
    return makeError("internal error: bad NVPTX pipeline: " + errors);
  if (failed(pm.run(*module)))
    return makeError("lowering the GPU kernels to PTX for " + arch + " failed" +
                     (diagnostics.empty() ? std::string() : ": " + diagnostics));
  mlir::gpu::BinaryOp binary;
  module->walk([&](mlir::gpu::BinaryOp op) { binary = op; });
  if (!binary || binary.getObjects().size() != 1)
    return makeError("internal error: gpu-module-to-binary produced no PTX");
  auto object = cast<mlir::gpu::ObjectAttr>(binary.getObjects()[0]);
  return object.getObject().getValue().str();
}

} // namespace qopt::nvptx
