//===- Common.cpp ----------------------------------------------------------===//
#include "Common.h"

#include "qopt/Support/TextCheck.h"

#include "qopt/Support/Error.h"

#include "Qnt/Utils/QuantScheme.h"
#include "qopt/Import/GraphBuilder.h"
#include "qopt/Support/SafeTensors.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

namespace cl = llvm::cl;

namespace qopt::tool {

cl::OptionCategory category("qopt options");
cl::SubCommand importCmd("import", "Import a checkpoint into qnt IR plus a parameter file");
cl::SubCommand runCmd("run", "Generate text from a prompt");
cl::SubCommand evalCmd("eval", "Perplexity of a text file (documents split at blank lines)");
cl::SubCommand compileCmd("compile",
                          "Quantize a model (recipe or pass pipeline) and report size and accuracy");
cl::SubCommand logitsCmd("logits", "Write the logits of a prompt to a .npy file");
// Defined here, with the options shared across subcommands: an option that
// names a subcommand defined in another file could be constructed first
// (static initialization order) and silently miss it.
cl::SubCommand tokenizeCmd("tokenize", "Print the token ids of a text");
cl::SubCommand chatTemplateCmd("chat-template",
                                "Print a conversation as the model's chat template renders it");
cl::SubCommand buildCmd("build", "Compile a model to a standalone CPU program (or library)");
cl::SubCommand exportCmd("export", "Write a model as a GGUF file that llama.cpp runs");
cl::SubCommand serveCmd("serve", "Build a model's CPU program and run it as an OpenAI-compatible "
                                 "HTTP server");

cl::opt<std::string> tokenizerOpt(
    "tokenizer",
    cl::desc("Hugging Face tokenizer.json (or its directory) or llama2.c tokenizer.bin "
             "(default: the one recorded by import, or tokenizer.json / tokenizer.bin / the "
             "only tok*.bin beside the checkpoint)"),
    cl::value_desc("file"), cl::init(""), cl::sub(importCmd), cl::sub(runCmd),
    cl::sub(evalCmd), cl::sub(logitsCmd), cl::sub(compileCmd), cl::sub(buildCmd),
    cl::sub(exportCmd), cl::sub(serveCmd), cl::cat(category));
cl::opt<unsigned> threadsOpt("threads",
                             cl::desc("Worker threads (default: one per hardware thread)"),
                             cl::init(0), cl::sub(runCmd), cl::sub(evalCmd),
                             cl::sub(logitsCmd), cl::cat(category));

llvm::Expected<Session> openSession(llvm::StringRef path, bool needTokenizer) {
  Session s;
  auto model = loadModel(path, tokenizerOpt);
  if (!model)
    return model.takeError();
  s.model = std::move(*model);
  auto exec = Executor::create(*s.model.module, s.model.params, {threadsOpt});
  if (!exec)
    return exec.takeError();
  s.exec = std::move(*exec);
  if (needTokenizer) {
    if (s.model.tokenizerPath.empty())
      return makeError("no tokenizer found for '" + path + "'; pass --tokenizer FILE");
    auto tok = Tokenizer::load(s.model.tokenizerPath, s.model.config.vocabSize);
    if (!tok)
      return tok.takeError();
    s.tokenizer = std::make_unique<Tokenizer>(std::move(*tok));
  }
  return s;
}

llvm::Expected<std::string> readTextFile(llvm::StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buffer)
    return makeError("cannot open '" + path + "': " + buffer.getError().message());
  if (llvm::Error err = checkText((*buffer)->getBuffer(), "'" + path + "'"))
    return std::move(err);
  return (*buffer)->getBuffer().str();
}

int finish(llvm::StringRef command, llvm::Error err) {
  if (!err)
    return 0;
  llvm::errs() << "qopt " << command << ": error: " << llvm::toString(std::move(err)) << "\n";
  return 1;
}

llvm::Error checkOutputDirectory(llvm::StringRef out) {
  llvm::StringRef dir = llvm::sys::path::parent_path(out);
  if (!dir.empty() && !llvm::sys::fs::is_directory(dir))
    return makeError("-o " + out + ": the directory '" + dir + "' does not exist");
  return llvm::Error::success();
}

llvm::Expected<Tokenizer> loadTokenizerFor(mlir::ModuleOp module, llvm::StringRef path) {
  auto config = readModelConfig(module);
  if (!config)
    return config.takeError();
  return Tokenizer::load(path, config->vocabSize);
}

llvm::Expected<WrittenModel> writeModel(mlir::ModuleOp module, ParameterStore &store,
                                        llvm::StringRef tokenizerPath, llvm::StringRef out) {
  if (!out.ends_with(".mlir"))
    return makeError("-o must name a .mlir file, got '" + out + "'");
  llvm::StringRef stem = llvm::sys::path::stem(out);
  std::string paramsFile = (stem + ".safetensors").str();
  std::string tokenizerFile = (stem + ".tokenizer.bin").str();
  llvm::SmallString<256> dir(out);
  llvm::sys::path::remove_filename(dir);
  auto sibling = [&](llvm::StringRef name) {
    llvm::SmallString<256> p(dir);
    llvm::sys::path::append(p, name);
    return std::string(p);
  };
  mlir::Builder b(module.getContext());
  module->setAttr(kParamsAttr, b.getStringAttr(paramsFile));
  if (!tokenizerPath.empty())
    module->setAttr(kTokenizerAttr, b.getStringAttr(tokenizerFile));
  else
    module->removeAttr(kTokenizerAttr);
  if (mlir::failed(mlir::verify(module)))
    return makeError("internal error: the module to write does not verify");

  // Only what the IR reads: a quantized model does not carry its float
  // weights along.
  ParameterStore kept;
  kept.metadata() = store.metadata();
  for (const std::string &name : qmath::referencedTensorNames(module)) {
    auto t = store.get(name);
    if (!t)
      return t.takeError();
    kept.set(name, **t);
  }
  WrittenModel written{sibling(paramsFile), tokenizerPath.empty() ? "" : sibling(tokenizerFile)};
  if (llvm::Error err = kept.save(written.paramsPath))
    return std::move(err);
  if (!tokenizerPath.empty()) {
    // in the runtime's format: a tokenizer.json becomes QTOK here, once
    auto tok = loadTokenizerFor(module, tokenizerPath);
    if (!tok)
      return tok.takeError();
    if (llvm::Error err = writeFileAtomically(written.tokenizerPath, [&](llvm::raw_ostream &os) {
          os << tok->bytes();
          return llvm::Error::success();
        }))
      return std::move(err);
  }
  if (llvm::Error err = writeFileAtomically(out, [&](llvm::raw_ostream &os) {
        module.print(os);
        return llvm::Error::success();
      }))
    return std::move(err);
  return written;
}

} // namespace qopt::tool
