//===- BuildCommand.cpp - qopt build ---------------------------------------===//
//
// Lowers a (quantized) model to CPU code and links it with the runtime:
//   NAME        executable (-p/-n, --ppl, --bench; see runtime/cpu/main.c)
//   NAME.qrtw   packed weights + tokenizer, mmapped by the program
// --emit shared gives libNAME.so (C API: runtime/include/qrt.h) instead;
// --emit obj / llvm stop at the object file / LLVM IR.
//
//===----------------------------------------------------------------------===//
#include "Common.h"

#include "qopt/Conversion/QntToLLVM.h"
#include "qopt/Support/Error.h"
#include "qopt/Support/SafeTensors.h"

#include "llvm/IR/LLVMContext.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>

namespace cl = llvm::cl;

namespace qopt::tool {

cl::SubCommand buildCmd("build", "Compile a model to a standalone CPU program (or library)");

static cl::opt<std::string> modelArg(cl::Positional, cl::Required, cl::desc("<model>"),
                                     cl::sub(buildCmd), cl::cat(category));
static cl::opt<std::string> outputOpt("o", cl::desc("Output name (program, or library stem)"),
                                      cl::value_desc("name"), cl::Required, cl::sub(buildCmd),
                                      cl::cat(category));
static cl::opt<std::string> emitOpt("emit",
                                    cl::desc("What to produce: exe (default), shared "
                                             "(libNAME.so), obj (NAME.o), llvm (NAME.ll)"),
                                    cl::init("exe"), cl::sub(buildCmd), cl::cat(category));
static cl::opt<int64_t> chunkOpt("chunk",
                                 cl::desc("Most tokens one forward step processes (prefill "
                                          "chunk; sizes the activation arena, default 64)"),
                                 cl::init(64), cl::sub(buildCmd), cl::cat(category));
static cl::opt<bool> actInt8Opt(
    "act-int8",
    cl::desc("Weight-only integer linears quantize their activations to int8 blocks of 32 "
             "at run time and use integer dot products (default true; =false keeps f32 "
             "activations, matching the reference executor to float rounding)"),
    cl::init(true), cl::sub(buildCmd), cl::cat(category));
static cl::opt<std::string> ccOpt("cc", cl::desc("C compiler used to link (default: cc)"),
                                  cl::init("cc"), cl::sub(buildCmd), cl::cat(category));

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

static llvm::Error link(const std::string &object, const std::string &out, bool shared) {
  auto cc = llvm::sys::findProgramByName(ccOpt);
  if (!cc)
    return makeError("cannot find the C compiler '" + ccOpt + "' to link with (--cc)");
  std::string lib = runtimeDir();
  std::string qrt = lib + "/libqrt.a", qrtMain = lib + "/libqrt_main.a";
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
    args.insert(args.end(), {qrtMain, qrt});
  args.insert(args.end(), {"-lm", "-lpthread"});
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

static llvm::Error build() {
  auto start = std::chrono::steady_clock::now();
  if (emitOpt != "exe" && emitOpt != "shared" && emitOpt != "obj" && emitOpt != "llvm")
    return makeError("--emit must be exe, shared, obj or llvm, not '" + emitOpt + "'");
  if (chunkOpt < 1 || chunkOpt > 4096)
    return makeError("--chunk must be in [1, 4096]");
  auto model = loadModel(modelArg, tokenizerOpt);
  if (!model)
    return model.takeError();
  llvm::errs() << "lowering to CPU code ...\n";
  cpu::CpuOptions options;
  options.chunk = chunkOpt;
  options.int8Activations = actInt8Opt;
  auto program = cpu::lowerToCpu(*model->module, options);
  if (!program)
    return program.takeError();
  llvm::errs() << "  " << program->slots.size() << " weight slots, activation arena "
               << llvm::format("%.1f", double(program->arenaFloats) * 4 / 1024) << " KiB ("
               << llvm::format("%.1f", double(program->unplannedFloats) * 4 / 1024)
               << " KiB without reuse)\n";
  llvm::LLVMContext llvmContext;
  auto ir = cpu::translateToLLVMIR(*program->module, llvmContext);
  if (!ir)
    return ir.takeError();

  std::string out = outputOpt;
  std::string dir = std::string(llvm::sys::path::parent_path(out));
  std::string stem = std::string(llvm::sys::path::filename(out));
  auto sibling = [&](const std::string &name) {
    return dir.empty() ? name : (dir + "/" + name);
  };
  std::string weights = sibling((emitOpt == "shared" ? "lib" + stem + ".so" : stem) + ".qrtw");
  if (emitOpt == "llvm") {
    if (auto err = writeFileAtomically(out + ".ll", [&](llvm::raw_ostream &os) {
          (*ir)->print(os, nullptr);
          return llvm::Error::success();
        }))
      return err;
  } else {
    std::string object = emitOpt == "obj" ? out + ".o" : out + ".tmp.o";
    if (auto err = cpu::emitObjectFile(**ir, object))
      return err;
    if (emitOpt == "exe" || emitOpt == "shared") {
      std::string target = emitOpt == "exe" ? out : sibling("lib" + stem + ".so");
      llvm::errs() << "linking " << target << " ...\n";
      llvm::Error err = link(object, target, emitOpt == "shared");
      llvm::sys::fs::remove(object);
      if (err)
        return err;
    }
  }
  llvm::errs() << "packing weights ...\n";
  if (auto err = cpu::writeWeightsFile(weights, program->slots, *model->params,
                                       model->tokenizerPath))
    return err;
  llvm::errs() << "wrote " << (emitOpt == "exe" ? out + ", " : std::string()) << weights << " ("
               << llvm::format("%.1f", secondsSince(start)) << " s)\n";
  return llvm::Error::success();
}

int runBuild() { return finish("build", build()); }

} // namespace qopt::tool
