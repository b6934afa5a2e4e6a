//===- Common.h - shared pieces of the qopt subcommands ---------*- C++ -*-===//
#ifndef QOPT_TOOLS_QOPT_COMMON_H
#define QOPT_TOOLS_QOPT_COMMON_H

#include "qopt/Driver/LoadedModel.h"
#include "qopt/Exec/Executor.h"
#include "qopt/Support/Tokenizer.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Error.h"

namespace qopt::tool {

extern llvm::cl::OptionCategory category;
extern llvm::cl::SubCommand importCmd, runCmd, evalCmd, logitsCmd, compileCmd, buildCmd,
    tokenizeCmd, chatTemplateCmd, exportCmd, serveCmd;

/// --tokenizer and --threads, shared by run, eval and logits.
extern llvm::cl::opt<std::string> tokenizerOpt;
extern llvm::cl::opt<unsigned> threadsOpt;

/// A model with its executor and tokenizer, ready to run.
struct Session {
  LoadedModel model;
  std::unique_ptr<Executor> exec;
  std::unique_ptr<Tokenizer> tokenizer;
};

/// Fails unless the directory `out` goes into exists (checked before the
/// work, not when the result is written).
llvm::Error checkOutputDirectory(llvm::StringRef out);

/// The tokenizer at `path`, fitted to `module`'s vocabulary (what a written
/// model and a weights file carry, in the runtime's format).
llvm::Expected<Tokenizer> loadTokenizerFor(mlir::ModuleOp module, llvm::StringRef path);

/// Loads `path`, creates the executor and (if `needTokenizer`) the tokenizer.
llvm::Expected<Session> openSession(llvm::StringRef path, bool needTokenizer);

struct WrittenModel {
  std::string paramsPath, tokenizerPath;
};
/// Writes `module` to `out` (.mlir), the store to <stem>.safetensors beside
/// it (only the tensors the module references) and, when `tokenizerPath` is
/// non-empty, a copy of the tokenizer to <stem>.tokenizer.bin; sets the
/// module's parameter and tokenizer attributes to those names. Every file is
/// written to a temporary and renamed.
llvm::Expected<WrittenModel> writeModel(mlir::ModuleOp module, ParameterStore &store,
                                        llvm::StringRef tokenizerPath, llvm::StringRef out);

/// Reads a whole text file; errors name the file.
llvm::Expected<std::string> readTextFile(llvm::StringRef path);

/// Prints "qopt COMMAND: error: MESSAGE" for a failure; returns the exit code.
int finish(llvm::StringRef command, llvm::Error err);

int runImport();
int runRun();
int runEval();
int runLogits();
int runCompile();
int runBuild();
int runTokenize();
int runChatTemplate();
int runExport();
int runServe();

} // namespace qopt::tool

#endif
