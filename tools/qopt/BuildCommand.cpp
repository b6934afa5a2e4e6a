//===- BuildCommand.cpp - qopt build ---------------------------------------===//
//
// Lowers a (quantized) model to CPU code and links it with the runtime:
//   NAME        executable (-p/-n, --ppl, --bench; see runtime/common/main.c)
//   NAME.qrtw   packed weights + tokenizer, mmapped by the program
// --emit shared gives libNAME.so (C API: runtime/include/qrt.h) instead;
// --emit obj / llvm stop at the object file / LLVM IR.
// --target=nvptx links the same host code with the CUDA backend and embeds
// the GPU kernels' PTX: the program has the same interface and runs on an
// NVIDIA GPU (or says why it cannot).
//
//===----------------------------------------------------------------------===//
#include "Common.h"
#include "CpuArtifacts.h"

#include "qopt/Support/Error.h"

namespace cl = llvm::cl;

namespace qopt::tool {


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
static cl::opt<bool> fuseOpt(
    "fuse",
    cl::desc("Run the fusion passes (qnt-fuse: q/k/v and gate/up merges with SwiGLU, residual "
             "add into the next norm, norm + activation quantization) before lowering "
             "(default true)"),
    cl::init(true), cl::sub(buildCmd), cl::cat(category));
static cl::opt<std::string> ccOpt("cc", cl::desc("C compiler used to link (default: cc)"),
                                  cl::init("cc"), cl::sub(buildCmd), cl::cat(category));

static cl::opt<std::string> targetOpt(
    "target",
    cl::desc("Where the program runs: cpu (default) or nvptx (an NVIDIA GPU through the CUDA "
             "driver, loaded at run time)"),
    cl::init("cpu"), cl::sub(buildCmd), cl::cat(category));
static cl::opt<std::string> gpuArchOpt(
    "gpu-arch",
    cl::desc("With --target=nvptx: the chip the PTX is generated for, sm_80 (default: the "
             "driver JIT-compiles it for any newer GPU), sm_86, sm_89, sm_90 or sm_90a"),
    cl::init("sm_80"), cl::sub(buildCmd), cl::cat(category));

static llvm::Error build() {
  if (chunkOpt < 1 || chunkOpt > 4096)
    return makeError("--chunk must be in [1, 4096]");
  bool nvptx = targetOpt == "nvptx";
  if (targetOpt != "cpu" && !nvptx)
    return makeError("--target must be cpu or nvptx, not '" + targetOpt + "'");
  if (gpuArchOpt.getNumOccurrences() && !nvptx)
    return makeError("--gpu-arch applies only with --target=nvptx");
  if (nvptx && actInt8Opt.getNumOccurrences() && actInt8Opt)
    return makeError("--act-int8 is a CPU kernel scheme; the nvptx target keeps f32 "
                     "activations for weight-only linears");
  if (nvptx && !fuseOpt)
    return makeError("--target=nvptx needs the fusion passes (the CUDA backend runs fused "
                     "programs); drop --fuse=false");
  if (auto err = checkOutputDirectory(outputOpt))
    return err;
  auto model = loadModel(modelArg, tokenizerOpt);
  if (!model)
    return model.takeError();
  CpuArtifactRequest request;
  request.out = outputOpt;
  request.emit = emitOpt;
  request.cpu.chunk = chunkOpt;
  request.cpu.int8Activations = actInt8Opt && !nvptx;
  request.target = targetOpt;
  request.gpuArch = gpuArchOpt;
  request.cc = ccOpt;
  request.fuse = fuseOpt;
  return emitCpuArtifacts(*model->module, *model->params, model->tokenizerPath, request);
}

int runBuild() { return finish("build", build()); }

} // namespace qopt::tool
