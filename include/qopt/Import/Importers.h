//===- Importers.h - checkpoint readers -------------------------*- C++ -*-===//
#ifndef QOPT_IMPORT_IMPORTERS_H
#define QOPT_IMPORT_IMPORTERS_H

#include "qopt/Import/ModelConfig.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

namespace qopt {

/// Reads a llama2.c checkpoint: the legacy v0 layout (28-byte header, negative
/// vocab_size for an untied classifier) or the v1 export (magic "ak42",
/// 256-byte header). Weights are viewed in place in the mmapped file.
llvm::Expected<ImportedModel> importLlama2c(llvm::StringRef path);

/// Reads a Hugging Face Llama-family directory: config.json plus
/// model.safetensors or a sharded model.safetensors.index.json. Weights keep
/// their dtype (f32, f16 or bf16); q/k rows stay in HF's rotate-half order.
llvm::Expected<ImportedModel> importHuggingFace(llvm::StringRef dir);

/// Reads a GGUF file (llama.cpp's format): the llama and qwen2
/// architectures; legacy quantized blocks are kept as qnt schemes where one
/// holds them exactly (see lib/Import/Gguf.cpp).
llvm::Expected<ImportedModel> importGguf(llvm::StringRef path);

/// Chooses by what `path` is: a directory is HF, a file starting with
/// "GGUF" is GGUF, another file is llama2.c.
llvm::Expected<ImportedModel> importCheckpoint(llvm::StringRef path);

} // namespace qopt

#endif
