//===- TokenizeCommand.cpp - qopt tokenize ---------------------------------===//
//
// Prints the token ids of a text (llama.cpp's llama-tokenize): the tool a
// user checks a tokenizer with, and what the tests compare against
// sentencepiece, a GPT-2 transcription and llama.cpp's own vectors.
//
//===----------------------------------------------------------------------===//
#include "Common.h"

#include "qopt/Support/Error.h"
#include "qopt/Support/SafeTensors.h"
#include "qopt/Support/TextCheck.h"
#include "qopt/Support/Tokenizer.h"

#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

namespace cl = llvm::cl;

namespace qopt::tool {

static cl::opt<std::string>
    tokenizerArg(cl::Positional, cl::Required,
                 cl::desc("<tokenizer.json | tokenizer.bin | model directory>"),
                 cl::sub(tokenizeCmd), cl::cat(category));
static cl::opt<std::string> textOpt("p", cl::desc("Text to tokenize"), cl::init(""),
                                    cl::sub(tokenizeCmd), cl::cat(category));
static cl::opt<std::string> fileOpt("file", cl::desc("Tokenize this file's text instead of -p"),
                                    cl::value_desc("path"), cl::init(""), cl::sub(tokenizeCmd),
                                    cl::cat(category));
static cl::opt<std::string>
    separatorOpt("separator",
                 cl::desc("With --file: the texts are separated by this line; print one line "
                          "of ids per text"),
                 cl::init(""), cl::sub(tokenizeCmd), cl::cat(category));
static cl::opt<bool> bosOpt("bos",
                            cl::desc("Start with BOS when the tokenizer adds one (default true)"),
                            cl::init(true), cl::sub(tokenizeCmd), cl::cat(category));
static cl::opt<std::string>
    saveOpt("save",
            cl::desc("Write the tokenizer in the runtime's format (what a weights file carries) "
                     "to this file"),
            cl::value_desc("path"), cl::init(""), cl::sub(tokenizeCmd), cl::cat(category));
static cl::opt<bool> piecesOpt("pieces", cl::desc("Print each id with its piece"),
                               cl::init(false), cl::sub(tokenizeCmd), cl::cat(category));

static llvm::Error tokenize() {
  auto tok = Tokenizer::load(tokenizerArg, /*vocabSize=*/0);
  if (!tok)
    return tok.takeError();
  if (!saveOpt.empty()) {
    if (auto err = writeFileAtomically(saveOpt, [&](llvm::raw_ostream &os) {
          os << tok->bytes();
          return llvm::Error::success();
        }))
      return err;
    if (textOpt.empty() && fileOpt.empty())
      return llvm::Error::success();
  }
  std::string text = textOpt;
  if (!fileOpt.empty()) {
    if (!textOpt.empty())
      return makeError("give -p or --file, not both");
    auto buffer = llvm::MemoryBuffer::getFile(fileOpt, /*IsText=*/false);
    if (!buffer)
      return makeError("cannot open '" + fileOpt + "': " + buffer.getError().message());
    text = (*buffer)->getBuffer().str();
  } else if (!separatorOpt.empty()) {
    return makeError("--separator needs --file");
  }
  if (auto err = checkText(text, fileOpt.empty() ? "-p" : fileOpt.getValue()))
    return err;
  llvm::SmallVector<llvm::StringRef, 64> texts;
  std::string separator = "\n" + separatorOpt + "\n";
  if (separatorOpt.empty()) {
    texts.push_back(text);
  } else {
    llvm::StringRef(text).split(texts, separator);
    if (texts.size() > 1 && texts.back().empty()) // the file ends with a separator
      texts.pop_back();
  }
  for (llvm::StringRef t : texts) {
    std::vector<int32_t> ids = tok->encode(t, bosOpt, false);
    for (size_t i = 0; i < ids.size(); ++i) {
      llvm::outs() << (i ? " " : "") << ids[i];
      if (piecesOpt)
        llvm::outs() << ":'" << tok->piece(ids[i]) << "'";
    }
    llvm::outs() << "\n";
  }
  return llvm::Error::success();
}

int runTokenize() { return finish("tokenize", tokenize()); }

} // namespace qopt::tool
