//===- qopt-opt.cpp - MlirOptMain with the qnt dialect and qopt passes -----===//
//
// mlir-opt plus --params FILE, which attaches a parameter store to the qnt
// dialect before passes run, and --params-out FILE, which saves the store
// (including tensors that passes rewrote) afterwards; --calib TEXT with
// --calib-tokenizer attaches calibration sequences for data-driven passes.
//
//===----------------------------------------------------------------------===//
#include "Qnt/IR/QntDialect.h"
#include "qopt/Driver/CalibrationText.h"
#include "qopt/InitAll.h"
#include "qopt/Support/ParameterStore.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/ToolOutputFile.h"

static llvm::cl::opt<std::string>
    paramsPath("params", llvm::cl::desc("Parameter file (safetensors) for qnt.param ops"),
               llvm::cl::value_desc("file"), llvm::cl::init(""));
static llvm::cl::opt<std::string>
    paramsOutPath("params-out", llvm::cl::desc("Write the parameter store here after the passes"),
                  llvm::cl::value_desc("file"), llvm::cl::init(""));

static llvm::cl::opt<std::string>
    calibPath("calib", llvm::cl::desc("Calibration text for data-driven passes"),
              llvm::cl::value_desc("file"), llvm::cl::init(""));
static llvm::cl::opt<std::string>
    calibTokenizer("calib-tokenizer", llvm::cl::desc("Tokenizer (tokenizer.json or llama2.c tokenizer.bin) "
                                                     "that encodes the calibration text"),
                   llvm::cl::value_desc("file"), llvm::cl::init(""));
static llvm::cl::opt<int64_t> calibSamples("calib-samples",
                                           llvm::cl::desc("Calibration sequences (default 8)"),
                                           llvm::cl::init(8));
static llvm::cl::opt<int64_t> calibSeqLen("calib-seqlen",
                                          llvm::cl::desc("Tokens per calibration sequence "
                                                         "(default 64)"),
                                          llvm::cl::init(64));

static int fail(const llvm::Twine &message) {
  llvm::errs() << "qopt-opt: error: " << message << "\n";
  return 1;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  mlir::DialectRegistry registry;
  qopt::registerAllDialects(registry);
  qopt::registerAllPasses();
  qopt::keepFreedMemoryForReuse();
  auto [inputPath, outputPath] = mlir::registerAndParseCLIOptions(
      argc, argv, "qopt optimizer driver (qnt dialect and qopt passes)", registry);

  std::shared_ptr<qopt::ParameterStore> store;
  if (!paramsPath.empty()) {
    auto opened = qopt::ParameterStore::open(paramsPath);
    if (!opened)
      return fail(llvm::toString(opened.takeError()));
    store = std::move(*opened);
  } else if (!paramsOutPath.empty()) {
    return fail("--params-out needs --params");
  }

  std::shared_ptr<qopt::CalibrationSet> calib;
  if (!calibPath.empty()) {
    if (calibTokenizer.empty())
      return fail("--calib needs --calib-tokenizer");
    auto tokenizer = qopt::Tokenizer::load(calibTokenizer, 0);
    if (!tokenizer)
      return fail(llvm::toString(tokenizer.takeError()));
    auto set = qopt::loadCalibrationText(calibPath, *tokenizer, calibSamples, calibSeqLen);
    if (!set)
      return fail(llvm::toString(set.takeError()));
    calib = std::make_shared<qopt::CalibrationSet>(std::move(*set));
  }

  mlir::MlirOptMainConfig config = mlir::MlirOptMainConfig::createFromCLOptions();
  mlir::MlirOptMainConfig base = config;
  config.setPassPipelineSetupFn([&](mlir::PassManager &pm) {
    auto *qnt = pm.getContext()->getOrLoadDialect<qopt::qnt::QntDialect>();
    if (store)
      qnt->setParameterStore(store);
    if (calib)
      qnt->setCalibrationSet(calib);
    return base.setupPassPipeline(pm);
  });

  std::string error;
  auto input = mlir::openInputFile(inputPath, &error);
  if (!input)
    return fail(error);
  auto output = mlir::openOutputFile(outputPath, &error);
  if (!output)
    return fail(error);
  if (mlir::failed(mlir::MlirOptMain(output->os(), std::move(input), registry, config)))
    return 1;
  output->keep();
  if (store && !paramsOutPath.empty())
    if (llvm::Error err = store->save(paramsOutPath))
      return fail(llvm::toString(std::move(err)));
  return 0;
}
