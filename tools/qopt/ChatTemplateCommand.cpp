//===- ChatTemplateCommand.cpp - qopt chat-template ------------------------===//
//
// Prints a conversation as the model's chat template renders it (what
// `qopt run --chat` and a program's --chat feed the model), and optionally
// its token ids: the tool a user checks a template with, and what the tests
// compare against python3-jinja2.
//
//===----------------------------------------------------------------------===//
#include "Common.h"

#include "qopt/Support/Error.h"
#include "qopt/Support/TextCheck.h"
#include "qopt/Support/Tokenizer.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

namespace cl = llvm::cl;
namespace json = llvm::json;

namespace qopt::tool {

static cl::opt<std::string>
    tokenizerArg(cl::Positional, cl::Required,
                 cl::desc("<tokenizer.json | model directory | QTOK file>"),
                 cl::sub(chatTemplateCmd), cl::cat(category));
static cl::opt<std::string>
    messagesOpt("messages",
                cl::desc("A JSON file: an array of {\"role\": ..., \"content\": ...} turns"),
                cl::value_desc("path"), cl::init(""), cl::sub(chatTemplateCmd),
                cl::cat(category));
static cl::opt<std::string> userOpt("p", cl::desc("Instead of --messages: one user turn"),
                                    cl::init(""), cl::sub(chatTemplateCmd), cl::cat(category));
static cl::opt<std::string> systemOpt("system", cl::desc("With -p: a system turn before it"),
                                      cl::init(""), cl::sub(chatTemplateCmd),
                                      cl::cat(category));
static cl::opt<bool> generationPromptOpt(
    "add-generation-prompt",
    cl::desc("End with the template's opening of the assistant's turn (default true)"),
    cl::init(true), cl::sub(chatTemplateCmd), cl::cat(category));
static cl::opt<std::string> templateOpt("chat-template",
                                        cl::desc("Render this template file instead of the "
                                                 "tokenizer's own"),
                                        cl::value_desc("path"), cl::init(""),
                                        cl::sub(chatTemplateCmd), cl::cat(category));
static cl::opt<bool> tokensOpt("tokens",
                               cl::desc("Print the token ids of the rendered text (special "
                                        "tokens matched, no BOS added) instead of the text"),
                               cl::init(false), cl::sub(chatTemplateCmd), cl::cat(category));

static llvm::Expected<std::vector<Tokenizer::ChatMessage>> readMessages(llvm::StringRef path) {
  auto text = readTextFile(path);
  if (!text)
    return text.takeError();
  if (auto err = checkText(*text, path))
    return std::move(err);
  auto doc = json::parse(*text);
  if (!doc)
    return makeError(path + ": not valid JSON (" + llvm::toString(doc.takeError()) + ")");
  const json::Array *turns = doc->getAsArray();
  if (!turns)
    return makeError(path + ": expected a JSON array of {\"role\", \"content\"} objects");
  std::vector<Tokenizer::ChatMessage> messages;
  for (size_t i = 0; i < turns->size(); ++i) {
    const json::Object *turn = (*turns)[i].getAsObject();
    auto role = turn ? turn->getString("role") : std::nullopt;
    auto content = turn ? turn->getString("content") : std::nullopt;
    if (!role || !content)
      return makeError(path + ": turn " + llvm::Twine(i) +
                       " needs string fields 'role' and 'content'");
    messages.push_back({role->str(), content->str()});
  }
  return messages;
}

static llvm::Error renderTemplate() {
  if (messagesOpt.empty() == userOpt.empty())
    return makeError("give --messages FILE or -p TEXT (one of them)");
  if (!systemOpt.empty() && userOpt.empty())
    return makeError("--system goes with -p");
  auto tok = Tokenizer::load(tokenizerArg, /*vocabSize=*/0);
  if (!tok)
    return tok.takeError();
  std::vector<Tokenizer::ChatMessage> messages;
  if (!messagesOpt.empty()) {
    auto read = readMessages(messagesOpt);
    if (!read)
      return read.takeError();
    messages = std::move(*read);
  } else {
    if (!systemOpt.empty())
      messages.push_back({"system", systemOpt});
    messages.push_back({"user", userOpt});
  }
  std::string tmpl;
  if (!templateOpt.empty()) {
    auto read = readTextFile(templateOpt);
    if (!read)
      return read.takeError();
    if (auto err = checkText(*read, templateOpt))
      return err;
    tmpl = std::move(*read);
  }
  auto text = tok->renderChat(messages, generationPromptOpt, tmpl);
  if (!text)
    return text.takeError();
  if (!tokensOpt) {
    llvm::outs() << *text;
    return llvm::Error::success();
  }
  std::vector<int32_t> ids = tok->encode(*text, /*bos=*/false, /*eos=*/false);
  for (size_t i = 0; i < ids.size(); ++i)
    llvm::outs() << (i ? " " : "") << ids[i];
  llvm::outs() << "\n";
  return llvm::Error::success();
}

int runChatTemplate() { return finish("chat-template", renderTemplate()); }

} // namespace qopt::tool
