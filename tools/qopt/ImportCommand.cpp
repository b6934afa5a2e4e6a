//===- ImportCommand.cpp - qopt import -------------------------------------===//
#include "Common.h"

#include "qopt/Import/GraphBuilder.h"
#include "qopt/Import/Importers.h"
#include "qopt/Support/Error.h"
#include "qopt/Support/SafeTensors.h"

#include "mlir/IR/Verifier.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

namespace cl = llvm::cl;

namespace qopt::tool {

static cl::opt<std::string> checkpointArg(cl::Positional, cl::Required,
                                          cl::desc("<checkpoint: llama2.c .bin, HF directory or .gguf>"),
                                          cl::sub(importCmd), cl::cat(category));
static cl::opt<std::string> outputOpt("o", cl::Required,
                                      cl::desc("Output .mlir; the parameters go to "
                                               "<stem>.safetensors and the tokenizer to "
                                               "<stem>.tokenizer.bin beside it"),
                                      cl::value_desc("model.mlir"), cl::sub(importCmd),
                                      cl::cat(category));

static llvm::Error importToFiles() {
  llvm::StringRef out = outputOpt;
  if (!out.ends_with(".mlir"))
    return makeError("-o must name a .mlir file, got '" + out + "'");
  if (auto err = checkOutputDirectory(out))
    return err;
  auto imported = importCheckpoint(checkpointArg);
  if (!imported)
    return imported.takeError();
  const ModelConfig &c = imported->config;

  std::string tokenizerPath = tokenizerOpt;
  if (tokenizerPath.empty() && !imported->tokenizerBytes.empty()) {
    auto stashed = stashTokenizer(imported->tokenizerBytes);
    if (!stashed)
      return stashed.takeError();
    tokenizerPath = *stashed;
  } else if (tokenizerPath.empty()) {
    tokenizerPath = findTokenizerNear(checkpointArg);
  }
  if (!tokenizerPath.empty()) {
    if (auto tok = Tokenizer::load(tokenizerPath, c.vocabSize); !tok)
      return tok.takeError();
  }

  auto ctx = createContext();
  auto module = buildLlamaModule(*ctx, c, *imported->params, imported->quantized);
  imported->params->metadata()["qopt.source"] = c.source;
  auto written = writeModel(*module, *imported->params, tokenizerPath, out);
  if (!written)
    return written.takeError();

  llvm::errs() << "imported " << c.source << ": dim " << c.dim << ", hidden "
               << c.hiddenDim << ", " << c.numLayers << " layers, " << c.numHeads
               << " heads (" << c.numKvHeads << " kv) of " << c.headDim() << ", vocab "
               << c.vocabSize << ", seq_len " << c.maxSeqLen
               << (c.tiedClassifier ? ", tied classifier" : ", untied classifier")
               << (c.qkvBias ? ", q/k/v biases" : "");
  if (c.slidingWindow)
    llvm::errs() << ", sliding window " << c.slidingWindow;
  if (!c.ropeScaling.empty())
    llvm::errs() << ", rope scaling " << c.ropeScaling;
  llvm::errs() << "\n";
  if (!imported->quantized.empty())
    llvm::errs() << imported->quantized.size() << " weights kept quantized as they were\n";
  for (const std::string &note : imported->notes)
    llvm::errs() << "note: " << note << "\n";
  llvm::errs() << "wrote " << out << ", " << written->paramsPath << " ("
               << imported->params->size() << " tensors, "
               << imported->params->totalBytes() << " bytes)";
  if (!tokenizerPath.empty())
    llvm::errs() << ", " << written->tokenizerPath;
  else
    llvm::errs() << " (no tokenizer found: run/eval will need --tokenizer)";
  llvm::errs() << "\n";
  return llvm::Error::success();
}

int runImport() { return finish("import", importToFiles()); }

} // namespace qopt::tool
