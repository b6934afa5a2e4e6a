//===- CompileCommand.cpp - qopt compile -----------------------------------===//
//
// qopt compile MODEL -o OUT.mlir [--recipe R | --pipeline P] [--calib TEXT]
//                   [--eval TEXT] [--report OUT.json]
//
// Runs a quantization recipe (a named pass pipeline) or an explicit pipeline
// over the model, writes the quantized model (IR + packed parameters), and
// reports per linear and overall: scheme, bits per weight with scales
// counted, scale statistics, quantization error, size, perplexity before and
// after.
//
//===----------------------------------------------------------------------===//
#include "Common.h"
#include "CpuArtifacts.h"

#include "Qnt/IR/QntDialect.h"
#include "qopt/Conversion/QntToNVPTX.h"
#include "qopt/Driver/CalibrationText.h"
#include "qopt/Driver/ModelComparison.h"
#include "qopt/Driver/Perplexity.h"
#include "qopt/Driver/QuantReport.h"
#include "qopt/Exec/Calibration.h"
#include "qopt/Pipelines/Recipes.h"
#include "qopt/Support/Progress.h"
#include "qopt/Support/Error.h"
#include "qopt/Support/SafeTensors.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassInstrumentation.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>

namespace cl = llvm::cl;

namespace qopt::tool {

static cl::opt<std::string> modelArg(cl::Positional, cl::Required, cl::desc("<model>"),
                                     cl::sub(compileCmd), cl::cat(category));
static cl::opt<std::string> outOpt("o", cl::Required,
                                   cl::desc("Output .mlir (parameters go to <stem>.safetensors)"),
                                   cl::value_desc("model.mlir"), cl::sub(compileCmd),
                                   cl::cat(category));
static cl::opt<std::string> recipeOpt(
    "recipe",
    cl::desc("Quantization recipe: fp32, rtn, gptq, awq, awq-gptq, w8a8 (SmoothQuant), nf4, "
             "llm-int8, mixed (default rtn); the same pipeline as qopt-opt's "
             "qnt-recipe-NAME{...}, printed by --print-pipeline. A recipe refuses the "
             "options it does not read"),
    cl::init("rtn"), cl::sub(compileCmd), cl::cat(category));
static cl::opt<std::string> pipelineOpt(
    "pipeline", cl::desc("Explicit pass pipeline instead of a recipe, e.g. "
                         "'qnt-awq{bits=4},qnt-gptq{bits=4 act-order=true}'"),
    cl::init(""), cl::sub(compileCmd), cl::cat(category));
static cl::opt<int64_t> bitsOpt("bits", cl::desc("Weight bits (default 4; w8a8 uses 8)"),
                                cl::init(4), cl::sub(compileCmd), cl::cat(category));
static cl::opt<int64_t> groupOpt("group-size",
                                 cl::desc("Input channels per scale; 0 = per channel, "
                                          "-1 = per tensor (default 32; nf4 64)"),
                                 cl::init(32), cl::sub(compileCmd), cl::cat(category));
static cl::opt<bool> symOpt("symmetric", cl::desc("Symmetric weight grid (default true)"),
                            cl::init(true), cl::sub(compileCmd), cl::cat(category));
static cl::opt<bool> actOrderOpt("act-order", cl::desc("GPTQ: decreasing Hessian diagonal order"),
                                 cl::init(false), cl::sub(compileCmd), cl::cat(category));
static cl::opt<bool> staticGroupsOpt("static-groups",
                                     cl::desc("GPTQ: group parameters from the unmodified weights"),
                                     cl::init(false), cl::sub(compileCmd), cl::cat(category));
static cl::opt<double> dampOpt("damp", cl::desc("GPTQ dampening, fraction of mean diag(H)"),
                               cl::init(0.01), cl::sub(compileCmd), cl::cat(category));
static cl::opt<double> alphaOpt("alpha", cl::desc("SmoothQuant migration strength (default 0.5)"),
                                cl::init(0.5), cl::sub(compileCmd), cl::cat(category));
static cl::opt<bool> alphaSearchOpt("alpha-search",
                                    cl::desc("SmoothQuant: search alpha per layer"),
                                    cl::init(false), cl::sub(compileCmd), cl::cat(category));
static cl::opt<std::string> actModeOpt("act-mode",
                                       cl::desc("w8a8 activations: static or dynamic"),
                                       cl::init("static"), cl::sub(compileCmd), cl::cat(category));
static cl::opt<std::string> observerOpt("observer",
                                        cl::desc("Static activation observer: minmax, "
                                                 "percentile, mse"),
                                        cl::init("minmax"), cl::sub(compileCmd),
                                        cl::cat(category));
static cl::opt<double> thresholdOpt("threshold", cl::desc("llm-int8 outlier threshold"),
                                    cl::init(6.0), cl::sub(compileCmd), cl::cat(category));
static cl::opt<double> targetBpwOpt("target-bpw",
                                    cl::desc("mixed: bits-per-weight budget (default 4.5)"),
                                    cl::init(4.5), cl::sub(compileCmd), cl::cat(category));
static cl::opt<std::string> calibOpt("calib", cl::desc("Calibration text file"), cl::init(""),
                                     cl::sub(compileCmd), cl::cat(category));
static cl::opt<int64_t> calibSamplesOpt("calib-samples",
                                        cl::desc("Calibration sequences (default 128)"),
                                        cl::init(128), cl::sub(compileCmd), cl::cat(category));
static cl::opt<int64_t> calibSeqLenOpt("calib-seqlen",
                                       cl::desc("Tokens per calibration sequence (default 256)"),
                                       cl::init(256), cl::sub(compileCmd), cl::cat(category));
static cl::opt<std::string> evalOpt("eval",
                                    cl::desc("Text for perplexity before and after, and KL of "
                                             "the quantized model from the float one (protocol "
                                             "of qopt eval)"),
                                    cl::init(""), cl::sub(compileCmd), cl::cat(category));
static cl::opt<int64_t> evalWindowsOpt("eval-windows",
                                       cl::desc("Evaluate at most this many windows (0 = all)"),
                                       cl::init(0), cl::sub(compileCmd), cl::cat(category));
static cl::opt<std::string> reportOpt("report",
                                      cl::desc("JSON report (default <stem>.report.json)"),
                                      cl::init(""), cl::sub(compileCmd), cl::cat(category));
static cl::opt<std::string> targetOpt(
    "target",
    cl::desc("After quantizing, also lower to a target: none (default); cpu, which "
             "writes STEM.o (or STEM.ll with --emit llvm) and STEM.qrtw for linking with "
             "the runtime; or nvptx, which writes the GPU kernels as STEM.ptx for --gpu-arch "
             "(`qopt build` makes whole programs for either target)"),
    cl::init("none"), cl::sub(compileCmd), cl::cat(category));
static cl::opt<std::string> gpuArchOpt("gpu-arch",
                                       cl::desc("With --target=nvptx: sm_80 (default, as "
                                                "qopt build), sm_86, sm_89, sm_90 or sm_90a"),
                                       cl::init("sm_80"), cl::sub(compileCmd),
                                       cl::cat(category));
static cl::opt<std::string> compileEmitOpt("emit",
                                           cl::desc("With --target=cpu: obj (default) or llvm"),
                                           cl::init("obj"), cl::sub(compileCmd),
                                           cl::cat(category));
static cl::opt<bool> compileFuseOpt(
    "fuse", cl::desc("With --target=cpu: run the fusion passes before lowering (default true; "
                     "the written .mlir stays unfused)"),
    cl::init(true), cl::sub(compileCmd), cl::cat(category));
static cl::opt<std::string> kvCacheOpt(
    "kv-cache",
    cl::desc("KV cache element type: f32 (default), f16 (half the memory and traffic; "
             "keys and values rounded to half precision when stored) or i8 (a quarter: "
             "int8 codes with an f32 scale per position and KV head)"),
    cl::init("f32"), cl::sub(compileCmd), cl::cat(category));
static cl::opt<int64_t> lmHeadBitsOpt(
    "lm-head-bits",
    cl::desc("Also quantize the classifier per output channel to this many bits (2-8; "
             "default 0 keeps it in float). Decode reads it whole every step"),
    cl::init(0), cl::sub(compileCmd), cl::cat(category));
static cl::opt<int64_t> lmHeadGroupOpt(
    "lm-head-group-size",
    cl::desc("With --lm-head-bits: input channels per classifier scale (default 0 = one "
             "scale per output channel; 32 is llama.cpp's Q4_0 and Q8_0 layout)"),
    cl::init(0), cl::sub(compileCmd), cl::cat(category));
static cl::opt<bool> printPipelineOpt("print-pipeline",
                                      cl::desc("Print the pass pipeline and exit"),
                                      cl::init(false), cl::sub(compileCmd), cl::cat(category));

/// The recipe options the command line gave explicitly, so that the recipe
/// can refuse those it does not read (and apply its own defaults).
static void recipeOptionsFromFlags(RecipeOptions &o) {
  auto set = [](auto &option, const auto &flag) {
    if (flag.getNumOccurrences())
      option = flag.getValue();
  };
  set(o.bits, bitsOpt);
  set(o.groupSize, groupOpt);
  set(o.symmetric, symOpt);
  set(o.actOrder, actOrderOpt);
  set(o.staticGroups, staticGroupsOpt);
  set(o.damp, dampOpt);
  set(o.alpha, alphaOpt);
  set(o.alphaSearch, alphaSearchOpt);
  set(o.actMode, actModeOpt);
  set(o.observer, observerOpt);
  set(o.threshold, thresholdOpt);
  set(o.targetBpw, targetBpwOpt);
  set(o.kvCache, kvCacheOpt);
  set(o.lmHeadBits, lmHeadBitsOpt);
  set(o.lmHeadGroupSize, lmHeadGroupOpt);
}

/// The recipe flags, which an explicit --pipeline does not read.
static llvm::Error refuseRecipeFlagsWithPipeline() {
  const llvm::cl::Option *recipeFlags[] = {
      &recipeOpt, &bitsOpt,   &groupOpt,       &symOpt,       &actOrderOpt,
      &staticGroupsOpt, &dampOpt, &alphaOpt, &alphaSearchOpt, &actModeOpt,
      &observerOpt,     &thresholdOpt, &targetBpwOpt};
  for (const llvm::cl::Option *flag : recipeFlags)
    if (flag->getNumOccurrences())
      return makeError("--" + flag->ArgStr.str() +
                       " applies to recipes; with --pipeline, give the pass its own option");
  return llvm::Error::success();
}

/// Fills `pm` with the recipe (or the explicit --pipeline) and the options
/// applied after either.
static llvm::Error buildPipeline(mlir::PassManager &pm) {
  RecipeOptions options;
  recipeOptionsFromFlags(options);
  if (!pipelineOpt.empty()) {
    if (llvm::Error err = refuseRecipeFlagsWithPipeline())
      return err;
    if (llvm::Error err = checkCommonOptions(options, "--"))
      return err;
    std::string parseErrors;
    llvm::raw_string_ostream parseStream(parseErrors);
    if (mlir::failed(mlir::parsePassPipeline(pipelineOpt, pm, parseStream)))
      return makeError("bad pipeline '" + pipelineOpt + "': " +
                       llvm::StringRef(parseErrors).trim());
    addCommonPasses(pm, options);
    return llvm::Error::success();
  }
  const RecipeInfo *recipe = findRecipe(recipeOpt);
  if (!recipe)
    return makeError("unknown recipe '" + recipeOpt + "' (" + recipeNames() + ")");
  return buildRecipePipeline(pm, *recipe, options, "--");
}

static std::string pipelineText(mlir::PassManager &pm) {
  std::string text;
  llvm::raw_string_ostream os(text);
  pm.printAsTextualPipeline(os);
  return text;
}

static cl::opt<bool> quietOpt("quiet",
                              cl::desc("No progress lines on stderr (errors and warnings "
                                       "still appear)"),
                              cl::init(false), cl::sub(compileCmd), cl::cat(category));

namespace {
/// Prints each pass as it starts and how long it took (unless --quiet), and
/// records the times for the report.
struct Progress : mlir::PassInstrumentation {
  std::chrono::steady_clock::time_point start;
  CalibrationClock calibrationAtStart;
  QuantReport &report;
  std::shared_ptr<ProgressSink> sink; // the passes' own progress lines
  Progress(QuantReport &report, std::shared_ptr<ProgressSink> sink)
      : report(report), sink(std::move(sink)) {}
  void runBeforePass(mlir::Pass *pass, mlir::Operation *) override {
    if (!quietOpt)
      llvm::errs() << "running " << pass->getArgument() << " ...\n";
    if (sink)
      sink->begin(pass->getArgument());
    calibrationAtStart = calibrationForwardTotals();
    start = std::chrono::steady_clock::now();
  }
  void runAfterPass(mlir::Pass *pass, mlir::Operation *) override {
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    CalibrationClock now = calibrationForwardTotals();
    report.passTimes.push_back({pass->getArgument().str(), s,
                                now.tokens - calibrationAtStart.tokens,
                                now.seconds - calibrationAtStart.seconds});
    if (!quietOpt)
      llvm::errs() << llvm::format("  %s done in %.1f s\n", pass->getArgument().str().c_str(),
                                   s);
  }
};
} // namespace

/// The eval windows of the report (qopt eval's protocol at --ctx 256).
constexpr int64_t kEvalCtx = 256;

/// Fails now, before minutes of quantization, when the eval text cannot
/// give one window.
static llvm::Error checkEvalStream(const std::vector<int32_t> &stream) {
  if (int64_t(stream.size()) < kEvalCtx)
    return makeError("'" + evalOpt + "' has " + llvm::Twine(stream.size()) +
                     " tokens, fewer than one window of " + llvm::Twine(kEvalCtx));
  return llvm::Error::success();
}

/// The quantized model against the float one, loaded again from the
/// input, on the eval windows: both perplexities, KL and top-1 agreement.
static llvm::Error measureAgainstFloat(Session &session, const std::vector<int32_t> &stream,
                                       QuantReport &report) {
  if (!quietOpt)
    llvm::errs() << "perplexity and KL against the float model ...\n";
  auto base = openSession(modelArg, /*needTokenizer=*/false);
  if (!base)
    return base.takeError();
  auto r = compareModels(*session.exec, *base->exec, stream, kEvalCtx, evalWindowsOpt,
                         [](int64_t, int64_t) {});
  if (!r)
    return r.takeError();
  report.pplBefore = r->base.perplexity;
  report.nllBefore = r->base.meanNll;
  report.pplAfter = r->model.perplexity;
  report.nllAfter = r->model.meanNll;
  report.klMean = r->meanKl;
  report.klMax = r->maxKl;
  report.top1Agreement = r->top1Agreement;
  report.evalTokens = r->model.predictions;
  return llvm::Error::success();
}

/// The NVPTX target's kernels for --gpu-arch, as one PTX module.
static llvm::Error writeGpuKernels(mlir::MLIRContext &ctx, const std::string &path) {
  std::vector<std::string> kernels;
  auto ptx = nvptx::kernelsPtx(ctx, gpuArchOpt, &kernels);
  if (!ptx)
    return ptx.takeError();
  if (llvm::Error err = writeFileAtomically(path, [&](llvm::raw_ostream &os) {
        os << *ptx;
        return llvm::Error::success();
      }))
    return err;
  llvm::errs() << "wrote " << path << " (" << kernels.size() << " kernels for " << gpuArchOpt
               << ")\n";
  return llvm::Error::success();
}

/// The output, target and sampling options, checked before minutes of
/// quantization rather than when they are first used.
static llvm::Error checkCompileOptions() {
  if (!llvm::StringRef(outOpt).ends_with(".mlir"))
    return makeError("-o must name a .mlir file, got '" + outOpt + "'");
  if (auto err = checkOutputDirectory(outOpt))
    return err;
  if (targetOpt != "none" && targetOpt != "cpu" && targetOpt != "nvptx")
    return makeError("--target must be none, cpu or nvptx, not '" + targetOpt + "'");
  // Target options given without their target would be silently ignored.
  if (gpuArchOpt.getNumOccurrences() && targetOpt != "nvptx")
    return makeError("--gpu-arch applies only with --target=nvptx");
  if ((compileEmitOpt.getNumOccurrences() || compileFuseOpt.getNumOccurrences()) &&
      targetOpt != "cpu")
    return makeError("--emit and --fuse apply only with --target=cpu");
  const auto &archs = nvptx::supportedArchs();
  if (targetOpt == "nvptx" &&
      std::find(archs.begin(), archs.end(), gpuArchOpt.getValue()) == archs.end())
    return makeError("--gpu-arch must be one of sm_80, sm_86, sm_89, sm_90, sm_90a, not '" +
                     gpuArchOpt + "'");
  if (compileEmitOpt != "obj" && compileEmitOpt != "llvm")
    return makeError("--emit must be obj or llvm, not '" + compileEmitOpt + "'");
  if (calibSamplesOpt <= 0 || calibSeqLenOpt < 2)
    return makeError("--calib-samples must be positive and --calib-seqlen at least 2");
  if (evalWindowsOpt < 0)
    return makeError("--eval-windows must be >= 0");
  return llvm::Error::success();
}

/// Attaches the parameter store and (with --calib) the calibration set to
/// the qnt dialect, where the passes find them.
static llvm::Error attachPassInputs(Session &session) {
  auto *qnt = session.model.module->getContext()->getOrLoadDialect<qnt::QntDialect>();
  qnt->setParameterStore(session.model.params);
  if (calibOpt.empty())
    return llvm::Error::success();
  auto calib =
      loadCalibrationText(calibOpt, *session.tokenizer, calibSamplesOpt, calibSeqLenOpt);
  if (!calib)
    return calib.takeError();
  if (!quietOpt)
    llvm::errs() << "calibration: " << calib->samples.size() << " x " << calibSeqLenOpt
                 << " tokens from " << calibOpt << "\n";
  qnt->setCalibrationSet(std::make_shared<CalibrationSet>(std::move(*calib)));
  return llvm::Error::success();
}

/// Runs `pm`; pass failures arrive as diagnostics and come back as the
/// first one, a one-line error.
static llvm::Error runPasses(mlir::PassManager &pm, mlir::ModuleOp module) {
  std::string firstError;
  mlir::ScopedDiagnosticHandler handler(module.getContext(), [&](mlir::Diagnostic &d) {
    std::string msg = d.str();
    if (d.getSeverity() == mlir::DiagnosticSeverity::Error) {
      if (firstError.empty())
        firstError = msg;
    } else if (d.getSeverity() == mlir::DiagnosticSeverity::Warning) {
      llvm::errs() << "qopt compile: warning: " << msg << "\n";
    }
    return mlir::success();
  });
  if (mlir::failed(pm.run(module)))
    return makeError(firstError.empty() ? "the pass pipeline failed" : firstError);
  return llvm::Error::success();
}

/// The report as STEM.report.json (or --report) and as a table on stdout.
static llvm::Error writeReport(const QuantReport &report, const std::string &paramsPath) {
  std::string reportPath = reportOpt;
  if (reportPath.empty())
    reportPath = llvm::StringRef(outOpt).drop_back(5).str() + ".report.json";
  if (llvm::Error err = writeFileAtomically(reportPath, [&](llvm::raw_ostream &os) {
        writeReportJson(report, os);
        return llvm::Error::success();
      }))
    return err;
  printReportTable(report, llvm::outs());
  if (!quietOpt)
    llvm::errs() << "wrote " << outOpt << ", " << paramsPath << ", " << reportPath
                 << llvm::format(" (%.1f s)\n", report.seconds);
  return llvm::Error::success();
}

/// With --target: the GPU kernels, or the CPU object and weights.
static llvm::Error lowerToTarget(LoadedModel &model, const std::string &tokenizerPath) {
  std::string stem = llvm::StringRef(outOpt).drop_back(5).str();
  if (targetOpt == "nvptx")
    return writeGpuKernels(*model.module->getContext(), stem + ".ptx");
  if (targetOpt == "cpu") {
    CpuArtifactRequest request;
    request.out = stem;
    request.emit = compileEmitOpt;
    request.fuse = compileFuseOpt;
    return emitCpuArtifacts(*model.module, *model.params, tokenizerPath, request);
  }
  return llvm::Error::success();
}

static llvm::Error compile() {
  auto start = std::chrono::steady_clock::now();
  // The pipeline is built, and a typo in it fails, before any long work.
  mlir::MLIRContext pipelineContext(mlir::MLIRContext::Threading::DISABLED);
  mlir::PassManager printed(&pipelineContext, mlir::ModuleOp::getOperationName());
  if (llvm::Error err = buildPipeline(printed))
    return err;
  std::string pipeline = pipelineText(printed);
  if (printPipelineOpt) {
    llvm::outs() << pipeline << "\n";
    return llvm::Error::success();
  }
  if (llvm::Error err = checkCompileOptions())
    return err;
  // A recipe that needs calibration fails now, not after the model loads
  // and the perplexity before is measured; the message is the one its
  // first pass would give.
  const RecipeInfo *recipe = pipelineOpt.empty() ? findRecipe(recipeOpt) : nullptr;
  if (recipe && recipe->needsCalibration && calibOpt.empty())
    return makeError(printed.begin()->getArgument() + " needs calibration data (--calib FILE)");

  auto session = openSession(modelArg, /*needTokenizer=*/!calibOpt.empty() || !evalOpt.empty());
  if (!session)
    return session.takeError();
  LoadedModel &model = session->model;
  mlir::PassManager pm(model.module->getContext(), mlir::ModuleOp::getOperationName());
  if (llvm::Error err = buildPipeline(pm))
    return err;
  QuantReport report;
  std::shared_ptr<ProgressSink> sink = quietOpt ? nullptr : makeStderrProgress();
  model.module->getContext()->getOrLoadDialect<qnt::QntDialect>()->setProgressSink(sink);
  pm.addInstrumentation(std::make_unique<Progress>(report, sink));
  report.model = modelArg;
  report.recipe = pipelineOpt.empty() ? recipeOpt.getValue() : "custom";
  report.pipeline = pipeline;
  report.floatBytes = int64_t(model.params->totalBytes());

  std::vector<int32_t> evalStream;
  if (!evalOpt.empty()) {
    auto text = readTextFile(evalOpt);
    if (!text)
      return text.takeError();
    evalStream = encodeDocuments(*session->tokenizer, *text);
    if (llvm::Error err = checkEvalStream(evalStream))
      return err;
  }
  if (llvm::Error err = attachPassInputs(*session))
    return err;
  if (!calibOpt.empty()) {
    report.calibrationFile = calibOpt;
    report.calibrationSamples = calibSamplesOpt;
    report.calibrationSeqLen = calibSeqLenOpt;
  }
  if (llvm::Error err = runPasses(pm, *model.module))
    return err;
  if (llvm::Error err = describeQuantization(*model.module, *model.params, report))
    return err;
  if (!evalOpt.empty()) {
    auto exec = Executor::create(*model.module, model.params, {threadsOpt});
    if (!exec)
      return exec.takeError();
    session->exec = std::move(*exec);
    if (llvm::Error err = measureAgainstFloat(*session, evalStream, report))
      return err;
  }

  auto written = writeModel(*model.module, *model.params, model.tokenizerPath, outOpt);
  if (!written)
    return written.takeError();
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  report.peakRssBytes = peakResidentBytes();
  if (llvm::Error err = writeReport(report, written->paramsPath))
    return err;
  return lowerToTarget(model, written->tokenizerPath);
}

int runCompile() { return finish("compile", compile()); }

} // namespace qopt::tool
