//===- qopt.cpp - the qopt user driver -------------------------------------===//
//
//   qopt import CHECKPOINT -o model.mlir
//   qopt run    MODEL [-p PROMPT] [-n STEPS] [-t TEMP] [--top-p P] [--seed S]
//   qopt eval   MODEL TEXT [--ctx N]
//   qopt logits MODEL -p PROMPT -o logits.npy
//   qopt compile MODEL -o quantized.mlir --recipe R --calib TEXT [--eval TEXT]
//   qopt build  MODEL -o NAME [--emit exe|shared|obj|llvm]
//   qopt export MODEL --format gguf -o model.gguf [--allow-requant]
//   qopt serve  MODEL [--program PATH] [--port N --parallel N ...]
//   qopt tokenize TOKENIZER -p TEXT | --file F [--separator LINE]
//   qopt chat-template TOKENIZER -p TEXT [--system S] | --messages FILE.json
//
// MODEL is a .mlir written by `qopt import`, a llama2.c checkpoint, or a
// Hugging Face directory.
//
//===----------------------------------------------------------------------===//
#include "Common.h"

#include "qopt/InitAll.h"

#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/raw_ostream.h"

using namespace qopt::tool;

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  qopt::registerAllPasses();
  qopt::keepFreedMemoryForReuse();
  llvm::cl::HideUnrelatedOptions(category);
  if (!llvm::cl::ParseCommandLineOptions(
          argc, argv,
          "qopt: compiler for quantized transformer models\n\n"
          "  MODEL is a .mlir from `qopt import`, a llama2.c checkpoint (.bin),\n"
          "  or a Hugging Face directory (config.json + *.safetensors).\n",
          &llvm::errs()))
    return 1;
  if (importCmd)
    return runImport();
  if (runCmd)
    return runRun();
  if (evalCmd)
    return runEval();
  if (logitsCmd)
    return runLogits();
  if (compileCmd)
    return runCompile();
  if (buildCmd)
    return runBuild();
  if (tokenizeCmd)
    return runTokenize();
  if (chatTemplateCmd)
    return runChatTemplate();
  if (exportCmd)
    return runExport();
  if (serveCmd)
    return runServe();
  llvm::errs() << "qopt: error: give a subcommand: import, compile, build, export, serve, run, eval, "
                  "logits, "
                  "tokenize or chat-template "
                  "(see qopt --help)\n";
  return 1;
}
