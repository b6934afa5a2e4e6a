//===- fuzz_checkpoint.cpp - libFuzzer target: the checkpoint readers ------===//
//
// The first input byte picks the reader, the rest is the file:
//   0: a llama2.c checkpoint (lib/Import/Llama2c.cpp)
//   1: a safetensors file (lib/Support/SafeTensors.cpp)
//   2: config.json of a Hugging Face directory (lib/Import/HuggingFace.cpp;
//      the directory has no weights, so a config that parses ends there)
//   3: a GGUF file (lib/Support/Gguf.cpp) and the vocabulary in its
//      metadata (lib/Support/GgufTokenizer.cpp)
// Readers take paths, so the input is written to a file in a private
// temporary directory. Every outcome but a crash is fine: the readers must
// turn any bytes into a model or a one-line error.
//
//===----------------------------------------------------------------------===//
#include "qopt/Import/Importers.h"
#include "qopt/Support/Gguf.h"
#include "qopt/Support/GgufTokenizer.h"
#include "qopt/Support/SafeTensors.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

namespace {

const std::string &workDir() {
  static std::string dir = [] {
    char tmpl[] = "/tmp/qopt-fuzz-XXXXXX";
    const char *d = mkdtemp(tmpl);
    if (!d)
      std::abort();
    return std::string(d);
  }();
  return dir;
}

void writeFile(const std::string &path, const uint8_t *data, size_t size) {
  FILE *f = std::fopen(path.c_str(), "wb");
  if (!f)
    std::abort();
  if (size && std::fwrite(data, 1, size, f) != size)
    std::abort();
  std::fclose(f);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  int reader = data[0] % 4;
  const std::string &dir = workDir();
  std::string path = dir + (reader == 0   ? "/model.bin"
                            : reader == 1 ? "/model.safetensors"
                            : reader == 2 ? "/config.json"
                                          : "/model.gguf");
  writeFile(path, data + 1, size - 1);
  if (reader == 0) {
    auto model = qopt::importLlama2c(path);
    if (!model)
      llvm::consumeError(model.takeError());
  } else if (reader == 1) {
    auto file = qopt::readSafeTensors(path);
    if (!file)
      llvm::consumeError(file.takeError());
  } else if (reader == 2) {
    auto model = qopt::importHuggingFace(dir);
    if (!model)
      llvm::consumeError(model.takeError());
  } else {
    auto file = qopt::gguf::read(path);
    if (!file) {
      llvm::consumeError(file.takeError());
    } else {
      // Touch every tensor's bytes: the reader vouched for their bounds.
      volatile uint8_t sink = 0;
      for (const auto &t : file->tensors)
        if (t.nbytes)
          sink = sink ^ t.data[0] ^ t.data[t.nbytes - 1];
      auto tok = qopt::llama2cTokenizerFromGguf(*file);
      if (!tok)
        llvm::consumeError(tok.takeError());
    }
  }
  std::remove(path.c_str());
  return 0;
}
