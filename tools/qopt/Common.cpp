//===- Common.cpp ----------------------------------------------------------===//
#include "Common.h"

#include "qopt/Support/Error.h"

#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

namespace cl = llvm::cl;

namespace qopt::tool {

cl::OptionCategory category("qopt options");
cl::SubCommand importCmd("import", "Import a checkpoint into qnt IR plus a parameter file");
cl::SubCommand runCmd("run", "Generate text from a prompt");
cl::SubCommand evalCmd("eval", "Perplexity of a text file (documents split at blank lines)");
cl::SubCommand logitsCmd("logits", "Write the logits of a prompt to a .npy file");

cl::opt<std::string> tokenizerOpt(
    "tokenizer",
    cl::desc("llama2.c tokenizer.bin (default: the one recorded by import, or "
             "tokenizer.bin / the only tok*.bin beside the checkpoint)"),
    cl::value_desc("file"), cl::init(""), cl::sub(importCmd), cl::sub(runCmd),
    cl::sub(evalCmd), cl::sub(logitsCmd), cl::cat(category));
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
  return (*buffer)->getBuffer().str();
}

int finish(llvm::StringRef command, llvm::Error err) {
  if (!err)
    return 0;
  llvm::errs() << "qopt " << command << ": error: " << llvm::toString(std::move(err)) << "\n";
  return 1;
}

} // namespace qopt::tool
