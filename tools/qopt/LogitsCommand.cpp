//===- LogitsCommand.cpp - qopt logits -------------------------------------===//
//
// Writes the logits of every position to a .npy file (float32 [n, vocab]) so
// that other tools (numpy references, other frameworks) can be compared.
//
//===----------------------------------------------------------------------===//
#include "Common.h"

#include "qopt/Support/Error.h"
#include "qopt/Support/SafeTensors.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/raw_ostream.h"

namespace cl = llvm::cl;

namespace qopt::tool {

static cl::opt<std::string> modelArg(cl::Positional, cl::Required, cl::desc("<model>"),
                                     cl::sub(logitsCmd), cl::cat(category));
static cl::opt<std::string> promptOpt("p", cl::desc("Prompt, encoded with BOS"),
                                      cl::init(""), cl::sub(logitsCmd), cl::cat(category));
static cl::opt<std::string> tokensOpt("tokens",
                                      cl::desc("Comma-separated token ids (instead of -p)"),
                                      cl::init(""), cl::sub(logitsCmd), cl::cat(category));
static cl::opt<bool> stepwiseOpt("stepwise",
                                 cl::desc("Feed one token per forward call (decode path) "
                                          "instead of one prefill call"),
                                 cl::init(false), cl::sub(logitsCmd), cl::cat(category));
static cl::opt<bool> printTokensOpt("print-tokens",
                                    cl::desc("Print the token ids, one line, to stdout"),
                                    cl::init(false), cl::sub(logitsCmd), cl::cat(category));
static cl::opt<std::string> outputOpt("o", cl::desc("Output .npy file"),
                                      cl::value_desc("file"), cl::sub(logitsCmd),
                                      cl::cat(category));

static llvm::Error writeNpy(llvm::StringRef path, const std::vector<float> &data,
                           int64_t rows, int64_t cols) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" +
                       std::to_string(rows) + ", " + std::to_string(cols) + "), }";
  // Magic (6) + version (2) + length (2) + header must be a multiple of 64.
  while ((10 + header.size() + 1) % 64 != 0)
    header += ' ';
  header += '\n';
  return writeFileAtomically(path, [&](llvm::raw_ostream &os) {
    os << "\x93NUMPY" << char(1) << char(0);
    uint16_t len = uint16_t(header.size());
    os.write(reinterpret_cast<const char *>(&len), 2);
    os << header;
    os.write(reinterpret_cast<const char *>(data.data()), data.size() * sizeof(float));
    return llvm::Error::success();
  });
}

static llvm::Error dumpLogits() {
  if (promptOpt.getNumOccurrences() && !tokensOpt.empty())
    return makeError("give either -p or --tokens, not both");
  if (outputOpt.empty() && !printTokensOpt)
    return makeError("give -o FILE.npy (or --print-tokens)");
  bool fromText = tokensOpt.empty();
  auto session = openSession(modelArg, /*needTokenizer=*/fromText);
  if (!session)
    return session.takeError();
  std::vector<int32_t> tokens;
  if (fromText) {
    tokens = session->tokenizer->encode(promptOpt, /*bos=*/true, /*eos=*/false);
  } else {
    llvm::SmallVector<llvm::StringRef> parts;
    llvm::StringRef(tokensOpt).split(parts, ',');
    for (llvm::StringRef part : parts) {
      int32_t id;
      if (part.trim().getAsInteger(10, id))
        return makeError("--tokens: '" + part + "' is not an integer");
      tokens.push_back(id);
    }
  }
  if (printTokensOpt) {
    for (size_t i = 0; i < tokens.size(); ++i)
      llvm::outs() << (i ? " " : "") << tokens[i];
    llvm::outs() << "\n";
  }
  if (outputOpt.empty())
    return llvm::Error::success();
  int64_t vocab = session->exec->vocabSize();
  std::vector<float> logits;
  if (stepwiseOpt) {
    for (size_t i = 0; i < tokens.size(); ++i) {
      auto row = session->exec->forward({tokens[i]}, int64_t(i));
      if (!row)
        return row.takeError();
      logits.insert(logits.end(), row->begin(), row->end());
    }
  } else {
    auto all = session->exec->forward(tokens, 0);
    if (!all)
      return all.takeError();
    logits = std::move(*all);
  }
  return writeNpy(outputOpt, logits, int64_t(tokens.size()), vocab);
}

int runLogits() { return finish("logits", dumpLogits()); }

} // namespace qopt::tool
