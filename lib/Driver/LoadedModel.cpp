//===- LoadedModel.cpp -----------------------------------------------------===//
#include "qopt/Driver/LoadedModel.h"

#include "qopt/Import/GraphBuilder.h"
#include "qopt/Import/Importers.h"
#include "qopt/InitAll.h"
#include "qopt/Support/Error.h"
#include "qopt/Support/Tokenizer.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Signals.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

namespace qopt {

std::unique_ptr<mlir::MLIRContext> createContext() {
  mlir::DialectRegistry registry;
  registerAllDialects(registry);
  auto ctx = std::make_unique<mlir::MLIRContext>(registry);
  ctx->loadAllAvailableDialects();
  return ctx;
}

std::string findTokenizerNear(llvm::StringRef checkpoint) {
  llvm::SmallString<256> dir(checkpoint);
  if (!llvm::sys::fs::is_directory(checkpoint))
    llvm::sys::path::remove_filename(dir);
  if (dir.empty())
    dir = ".";
  return findTokenizerIn(dir);
}

/// Resolves `file` relative to the directory of `anchor`.
static std::string besides(llvm::StringRef anchor, llvm::StringRef file) {
  if (llvm::sys::path::is_absolute(file))
    return file.str();
  llvm::SmallString<256> path(anchor);
  llvm::sys::path::remove_filename(path);
  llvm::sys::path::append(path, file);
  return std::string(path);
}

static llvm::Expected<LoadedModel> loadMlir(llvm::StringRef path) {
  LoadedModel m;
  m.context = createContext();
  std::string diagnostics;
  {
    llvm::raw_string_ostream os(diagnostics);
    llvm::SourceMgr sourceMgr;
    mlir::SourceMgrDiagnosticHandler handler(sourceMgr, m.context.get(), os);
    m.module = mlir::parseSourceFile<mlir::ModuleOp>(path, sourceMgr,
                                                     mlir::ParserConfig(m.context.get()));
  }
  if (!m.module) {
    if (!llvm::sys::fs::exists(path))
      return makeError("cannot open '" + path + "': no such file");
    llvm::StringRef first = llvm::StringRef(diagnostics).split('\n').first;
    return makeError("malformed IR: " + first.trim());
  }
  auto params = (*m.module)->getAttrOfType<mlir::StringAttr>(kParamsAttr);
  if (!params)
    return makeError(path + ": module has no '" + kParamsAttr +
                     "' attribute naming its parameter file");
  auto store = ParameterStore::open(besides(path, params.getValue()));
  if (!store)
    return store.takeError();
  m.params = std::move(*store);
  auto config = readModelConfig(*m.module);
  if (!config)
    return makeError(path + ": " + llvm::toString(config.takeError()));
  m.config = *config;
  if (auto tok = (*m.module)->getAttrOfType<mlir::StringAttr>(kTokenizerAttr))
    m.tokenizerPath = besides(path, tok.getValue());
  return m;
}

namespace {
/// Temporary files this process made, removed when it exits.
struct TemporaryFiles {
  std::vector<std::string> paths;
  ~TemporaryFiles() {
    for (const std::string &p : paths)
      llvm::sys::fs::remove(p);
  }
};
TemporaryFiles temporaries;
} // namespace

llvm::Expected<std::string> stashTokenizer(llvm::StringRef bytes) {
  llvm::SmallString<256> path;
  int fd;
  if (std::error_code ec = llvm::sys::fs::createTemporaryFile("qopt-tokenizer", "bin", fd, path))
    return makeError("cannot create a temporary tokenizer file: " + ec.message());
  temporaries.paths.push_back(std::string(path));
  llvm::sys::RemoveFileOnSignal(path);
  llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
  os << bytes;
  os.close();
  if (os.has_error()) {
    os.clear_error();
    return makeError("cannot write the temporary tokenizer file '" + path + "'");
  }
  return std::string(path);
}

static llvm::Expected<LoadedModel> loadCheckpoint(llvm::StringRef path) {
  auto imported = importCheckpoint(path);
  if (!imported)
    return imported.takeError();
  LoadedModel m;
  m.context = createContext();
  m.config = imported->config;
  m.params = imported->params;
  m.module = buildLlamaModule(*m.context, m.config, *m.params, imported->quantized);
  for (const std::string &note : imported->notes)
    llvm::errs() << "note: " << note << "\n";
  if (!imported->tokenizerBytes.empty()) {
    auto stashed = stashTokenizer(imported->tokenizerBytes);
    if (!stashed)
      return stashed.takeError();
    m.tokenizerPath = *stashed;
  } else {
    m.tokenizerPath = findTokenizerNear(path);
  }
  return m;
}

llvm::Expected<LoadedModel> loadModel(llvm::StringRef path,
                                      llvm::StringRef tokenizerOverride) {
  auto loaded = path.ends_with(".mlir") ? loadMlir(path) : loadCheckpoint(path);
  if (!loaded)
    return loaded.takeError();
  if (!tokenizerOverride.empty())
    loaded->tokenizerPath = tokenizerOverride.str();
  return loaded;
}

} // namespace qopt
