//===- CpuArtifacts.cpp - lowering a module to CPU outputs -----------------===//
#include "CpuArtifacts.h"
#include "Common.h"
#include "qopt/Conversion/QntToNVPTX.h"
#include "qopt/Import/GraphBuilder.h"
#include "qopt/Support/Tokenizer.h"

#include "Qnt/IR/QntDialect.h"
#include "qopt/Pipelines/Recipes.h"
#include "qopt/Support/Error.h"
#include "qopt/Support/SafeTensors.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>

namespace qopt::tool {

static double secondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

/// build/lib beside build/bin/qopt, or $QOPT_RUNTIME_DIR.
static std::string runtimeDir() {
  if (const char *env = std::getenv("QOPT_RUNTIME_DIR"))
    return env;
  static int anchor;
  std::string exe = llvm::sys::fs::getMainExecutable("qopt", &anchor);
  llvm::SmallString<256> dir(llvm::sys::path::parent_path(llvm::sys::path::parent_path(exe)));
  llvm::sys::path::append(dir, "lib");
  return std::string(dir);
}

static llvm::Error link(const std::string &object, const std::string &out, bool shared,
                        const std::string &compiler, bool cuda) {
  auto cc = llvm::sys::findProgramByName(compiler);
  if (!cc)
    return makeError("cannot find the C compiler '" + compiler + "' to link with (--cc)");
  std::string lib = runtimeDir();
  std::string qrt = lib + (cuda ? "/libqrt_cuda.a" : "/libqrt.a"), qrtMain = lib + "/libqrt_main.a",
              qrtServer = lib + "/libqrt_server.a";
  if (!llvm::sys::fs::exists(qrt))
    return makeError("runtime library " + qrt + " not found (set QOPT_RUNTIME_DIR)");
  std::string tmp = out + ".tmp";
  std::vector<std::string> args = {*cc};
  if (shared)
    args.push_back("-shared");
  args.insert(args.end(), {"-o", tmp, object});
  if (shared) // export the whole C API, not only what the object calls
    args.insert(args.end(), {"-Wl,--whole-archive", qrt, "-Wl,--no-whole-archive"});
  else
    args.insert(args.end(), {qrtMain, qrtServer, qrt});
  // -lpcre2-8: the tokenizer's byte-level pre-tokenizer regex; utf8proc
  // (its Unicode normalizers) static, not a package the target must have
  args.insert(args.end(), {"-lpcre2-8", "-Wl,-Bstatic", "-lutf8proc", "-Wl,-Bdynamic", "-lm",
                           "-lpthread"});
  if (cuda)
    args.push_back("-ldl"); // the CUDA driver is loaded at run time
  if (!shared) // --serve: the C++ server over cpp-httplib (runtime/server/)
    args.insert(args.end(), {"-lcpp-httplib", "-lstdc++"});
  std::vector<llvm::StringRef> refs(args.begin(), args.end());
  std::string message;
  int rc = llvm::sys::ExecuteAndWait(*cc, refs, std::nullopt, {}, 0, 0, &message);
  if (rc != 0) {
    llvm::sys::fs::remove(tmp);
    return makeError("linking " + out + " failed (" + (message.empty() ? "exit " +
                     std::to_string(rc) : message) + ")");
  }
  if (auto ec = llvm::sys::fs::rename(tmp, out))
    return makeError(out + ": " + ec.message());
  return llvm::Error::success();
}

/// The CUDA backend's kernels cover integer codes with f16 scales and plain
/// f32; name the first weight they do not.
static llvm::Error checkNvptxSlots(const std::vector<cpu::WeightSlot> &slots) {
  for (const auto &slot : slots) {
    const char *why = nullptr;
    if (slot.quantized && slot.format == 1 /* QRTW_FORMAT_NF4 */)
      why = "NF4 weights";
    else if (slot.quantized && slot.scheme.doubleQuant)
      why = "double-quantized scales";
    else if (slot.outliers)
      why = "LLM.int8 outlier columns";
    if (why)
      return makeError("weight " + slot.name + ": " + why +
                       " have no CUDA kernel in the NVPTX target; build it for the CPU");
  }
  return llvm::Error::success();
}

/// Adds the kernels' PTX as the exported, NUL-terminated string the CUDA
/// backend loads (runtime/cuda/cuda_backend.h: qopt_gpu_ptx).
static llvm::Error addGpuKernels(mlir::ModuleOp program, const std::string &arch) {
  mlir::MLIRContext *ctx = program.getContext();
  auto ptx = nvptx::kernelsPtx(*ctx, arch);
  if (!ptx)
    return ptx.takeError();
  std::string text = *ptx + std::string(1, '\0');
  mlir::OpBuilder b(ctx);
  b.setInsertionPointToEnd(program.getBody());
  auto type = mlir::LLVM::LLVMArrayType::get(mlir::IntegerType::get(ctx, 8), text.size());
  mlir::LLVM::GlobalOp::create(b, program.getLoc(), type, /*isConstant=*/true,
                               mlir::LLVM::Linkage::External, "qopt_gpu_ptx",
                               b.getStringAttr(text));
  llvm::errs() << "  GPU kernels: PTX for " << arch << ", "
               << llvm::format("%.1f", double(text.size()) / 1024) << " KiB\n";
  return llvm::Error::success();
}

/// What qnt-fuse made, so a user sees the fusions that took effect.
static void printFusionSummary(mlir::ModuleOp module) {
  int64_t multi = 0, swiglu = 0, residual = 0, quantizing = 0;
  module.walk([&](mlir::Operation *op) {
    if (llvm::isa<qnt::MultiLinearOp>(op))
      ++multi;
    else if (llvm::isa<qnt::SwigluLinearOp>(op))
      ++swiglu;
    else if (auto n = llvm::dyn_cast<qnt::AddRmsNormOp>(op))
      ++residual, quantizing += n.getQuantBits().has_value();
    else if (auto n = llvm::dyn_cast<qnt::RmsNormOp>(op))
      quantizing += n.getQuantBits().has_value();
  });
  llvm::errs() << "fused: " << multi << " linear groups (q/k/v), " << swiglu
               << " gate/up + SwiGLU, " << residual << " residual adds into norms, "
               << quantizing << " norms writing int8 activations\n";
}

llvm::Error emitCpuArtifacts(mlir::ModuleOp module, ParameterStore &params,
                            llvm::StringRef tokenizerPath, const CpuArtifactRequest &request) {
  auto start = std::chrono::steady_clock::now();
  if (request.emit != "exe" && request.emit != "shared" && request.emit != "obj" &&
      request.emit != "llvm")
    return makeError("--emit must be exe, shared, obj or llvm, not '" + request.emit + "'");
  // the weights file carries the tokenizer in the runtime's format
  std::string tokenizerBytes;
  if (!tokenizerPath.empty()) {
    auto tok = loadTokenizerFor(module, tokenizerPath);
    if (!tok)
      return tok.takeError();
    tokenizerBytes = tok->bytes();
  }
  if (request.fuse) {
    mlir::PassManager pm(module.getContext());
    buildFusionPipeline(pm);
    if (mlir::failed(pm.run(module)))
      return makeError("the fusion passes failed");
    printFusionSummary(module);
  }
  bool nvptx = request.target == "nvptx";
  if (request.target != "cpu" && !nvptx)
    return makeError("--target must be cpu or nvptx, not '" + request.target + "'");
  if (nvptx) {
    bool scaled = false;
    module.walk([&](qnt::RopeOp r) { scaled |= bool(r.getFreqScale()); });
    if (scaled)
      return makeError("rope scaling (config.json's rope_scaling) is not implemented on the "
                       "nvptx target yet; build for --target cpu");
    bool windowed = false;
    module.walk([&](qnt::AttentionOp a) { windowed |= a.getWindow().has_value(); });
    if (windowed)
      return makeError("sliding-window attention (config.json's sliding_window) is not "
                       "implemented on the nvptx target yet; build for --target cpu");
    bool biased = false;
    module.walk([&](qnt::LinearOp l) { biased |= bool(l.getBias()); });
    module.walk([&](qnt::MultiLinearOp l) { biased |= !l.getBiases().empty(); });
    if (biased)
      return makeError("linear biases (Qwen2's q/k/v) are not implemented on the nvptx target "
                       "yet; build for --target cpu");
  }
  cpu::CpuOptions options = request.cpu;
  options.deviceArena = nvptx;
  llvm::errs() << (nvptx ? "lowering to host code for the CUDA backend ...\n"
                         : "lowering to CPU code ...\n");
  auto program = cpu::lowerToCpu(module, options);
  if (!program)
    return program.takeError();
  if (nvptx) {
    if (auto err = checkNvptxSlots(program->slots))
      return err;
    if (auto err = addGpuKernels(*program->module, request.gpuArch))
      return err;
  }
  llvm::errs() << "  " << program->slots.size() << " weight slots, activation arena "
               << llvm::format("%.1f", double(program->arenaFloats) * 4 / 1024) << " KiB ("
               << llvm::format("%.1f", double(program->unplannedFloats) * 4 / 1024)
               << " KiB without reuse)\n";
  llvm::LLVMContext llvmContext;
  auto ir = cpu::translateToLLVMIR(*program->module, llvmContext);
  if (!ir)
    return ir.takeError();

  std::string out = request.out;
  std::string dir = std::string(llvm::sys::path::parent_path(out));
  std::string stem = std::string(llvm::sys::path::filename(out));
  auto sibling = [&](const std::string &name) {
    return dir.empty() ? name : (dir + "/" + name);
  };
  std::string weights = sibling((request.emit == "shared" ? "lib" + stem + ".so" : stem) + ".qrtw");
  if (request.emit == "llvm") {
    if (auto err = writeFileAtomically(out + ".ll", [&](llvm::raw_ostream &os) {
          (*ir)->print(os, nullptr);
          return llvm::Error::success();
        }))
      return err;
  } else {
    std::string object = request.emit == "obj" ? out + ".o" : out + ".tmp.o";
    if (auto err = cpu::emitObjectFile(**ir, object))
      return err;
    if (request.emit == "exe" || request.emit == "shared") {
      std::string target = request.emit == "exe" ? out : sibling("lib" + stem + ".so");
      llvm::errs() << "linking " << target << " ...\n";
      llvm::Error err = link(object, target, request.emit == "shared", request.cc, nvptx);
      llvm::sys::fs::remove(object);
      if (err)
        return err;
    }
  }
  llvm::errs() << "packing weights ...\n";
  if (auto err = cpu::writeWeightsFile(weights, program->slots, params, tokenizerBytes))
    return err;
  std::string primary = request.emit == "exe"      ? out
                        : request.emit == "shared" ? sibling("lib" + stem + ".so")
                        : request.emit == "obj"    ? out + ".o"
                                                   : out + ".ll";
  llvm::errs() << "wrote " << primary << ", " << weights << " ("
               << llvm::format("%.1f", secondsSince(start)) << " s)\n";
  return llvm::Error::success();
}

} // namespace qopt::tool
