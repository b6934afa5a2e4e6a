//===- EmitObject.cpp - LLVM dialect to LLVM IR and object code -----------===//
#include "qopt/Conversion/QntToLLVM.h"
#include "qopt/Support/Error.h"

#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"

namespace qopt::cpu {
namespace {

llvm::Expected<std::unique_ptr<llvm::TargetMachine>> makeTargetMachine(llvm::Triple &triple) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  triple = llvm::Triple(llvm::sys::getDefaultTargetTriple());
  std::string error;
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return makeError("no LLVM target for " + triple.str() + ": " + error);
  llvm::TargetOptions options;
  // Generic CPU: the program runs wherever the runtime's kernels do.
  std::unique_ptr<llvm::TargetMachine> tm(target->createTargetMachine(
      triple, "generic", "", options, llvm::Reloc::PIC_, std::nullopt,
      llvm::CodeGenOptLevel::Aggressive));
  if (!tm)
    return makeError("could not create an LLVM target machine for " + triple.str());
  return tm;
}

} // namespace

llvm::Expected<std::unique_ptr<llvm::Module>> translateToLLVMIR(mlir::ModuleOp module,
                                                               llvm::LLVMContext &context) {
  mlir::registerBuiltinDialectTranslation(*module.getContext());
  mlir::registerLLVMDialectTranslation(*module.getContext());
  std::unique_ptr<llvm::Module> ir = mlir::translateModuleToLLVMIR(module, context, "qopt");
  if (!ir)
    return makeError("translating the program to LLVM IR failed");
  llvm::Triple triple;
  auto tm = makeTargetMachine(triple);
  if (!tm)
    return tm.takeError();
  ir->setTargetTriple(triple);
  ir->setDataLayout((*tm)->createDataLayout());
  auto optimize = mlir::makeOptimizingTransformer(3, 0, tm->get());
  if (auto err = optimize(ir.get()))
    return std::move(err);
  return ir;
}

llvm::Error emitObjectFile(llvm::Module &module, const std::string &path) {
  llvm::Triple triple;
  auto tm = makeTargetMachine(triple);
  if (!tm)
    return tm.takeError();
  std::string tmp = path + ".tmp";
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(tmp, ec, llvm::sys::fs::OF_None);
    if (ec)
      return makeError(tmp + ": " + ec.message());
    llvm::legacy::PassManager pm;
    if ((*tm)->addPassesToEmitFile(pm, os, nullptr, llvm::CodeGenFileType::ObjectFile))
      return makeError("LLVM cannot emit object files for " + triple.str());
    pm.run(module);
    os.close();
    if (os.has_error())
      return makeError(tmp + ": write failed");
  }
  if (auto ec = llvm::sys::fs::rename(tmp, path))
    return makeError(path + ": " + ec.message());
  return llvm::Error::success();
}

} // namespace qopt::cpu
