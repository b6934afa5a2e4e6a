//===- LoadedModel.h - a model ready to run ---------------------*- C++ -*-===//
//
// What `qopt run / eval / logits` work on: a qnt module with its parameter
// store and tokenizer, loaded from a .mlir written by `qopt import` or
// imported on the fly from a checkpoint (llama2.c file or HF directory).
//
//===----------------------------------------------------------------------===//
#ifndef QOPT_DRIVER_LOADEDMODEL_H
#define QOPT_DRIVER_LOADEDMODEL_H

#include "qopt/Import/ModelConfig.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <string>

namespace qopt {

struct LoadedModel {
  std::unique_ptr<mlir::MLIRContext> context;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  std::shared_ptr<ParameterStore> params;
  ModelConfig config;
  /// Tokenizer file to use (may be empty when none was found).
  std::string tokenizerPath;
};

/// Registers every dialect qopt understands into a fresh context.
std::unique_ptr<mlir::MLIRContext> createContext();

/// Loads `path`. `tokenizerOverride`, when non-empty, wins over discovery.
llvm::Expected<LoadedModel> loadModel(llvm::StringRef path,
                                      llvm::StringRef tokenizerOverride);

/// Writes a tokenizer carried inside a checkpoint (ImportedModel::
/// tokenizerBytes) to a temporary file, for the code that loads tokenizers
/// by path; the file is removed when the process exits.
llvm::Expected<std::string> stashTokenizer(llvm::StringRef bytes);

/// Finds the tokenizer of a checkpoint: tokenizer.bin beside it (or inside an
/// HF directory), else the only tok*.bin there. Empty when none is found.
std::string findTokenizerNear(llvm::StringRef checkpoint);

} // namespace qopt

#endif
