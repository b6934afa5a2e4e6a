//===- fuzz_checkpoint.cpp - libFuzzer target: the checkpoint readers ------===//
//
// The first input byte picks the reader, the rest is the file:
//   0: a llama2.c checkpoint (lib/Import/Llama2c.cpp)
//   1: a safetensors file (lib/Support/SafeTensors.cpp)
//   2: config.json of a Hugging Face directory (lib/Import/HuggingFace.cpp;
//      the directory has no weights, so a config that parses ends there)
//   3: a GGUF file (lib/Support/Gguf.cpp) and the vocabulary in its
//      metadata (lib/Support/GgufTokenizer.cpp)
//   4: a tokenizer.json (lib/Support/HfTokenizerJson.cpp), and the QTOK
//      section it becomes written as GGUF metadata
//   5: a QTOK section as GGUF metadata (what `qopt export` reads back)
//   6, 7: model.safetensors of a quantized Hugging Face directory whose
//      config.json is fixed, GPTQ 4-bit g16 (6) or AWQ GEMM 4-bit g16 (7):
//      the packed-linear reader (lib/Import/HfQuantized.cpp)
// Readers take paths, so the input is written to a file in a private
// temporary directory. Every outcome but a crash is fine: the readers must
// turn any bytes into a model or a one-line error.
//
//===----------------------------------------------------------------------===//
#include "qopt/Import/Importers.h"
#include "qopt/Support/Gguf.h"
#include "qopt/Support/GgufTokenizer.h"
#include "qopt/Support/HfTokenizerJson.h"
#include "qopt/Support/SafeTensors.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
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

/// The vocabulary count a QTOK section declares (after its header and EOS
/// list), capped so that a lying count costs no more than a small model.
int64_t qtokVocab(const std::string &q) {
  auto u32 = [&](size_t at) -> int64_t {
    if (q.size() < at + 4)
      return -1;
    uint32_t v;
    std::memcpy(&v, q.data() + at, 4);
    return v;
  };
  int64_t nEos = u32(24);
  int64_t n = nEos < 0 || nEos > 16 ? -1 : u32(28 + 4 * (size_t)nEos);
  return n < 1 || n > 4096 ? 300 : n;
}

/// A directory holding config.json of a tiny quantized Llama (dim 32,
/// hidden 64, one layer) by `method`, made once.
const std::string &quantizedDir(const char *method) {
  static std::map<std::string, std::string> dirs;
  std::string &dir = dirs[method];
  if (dir.empty()) {
    dir = workDir() + "/" + method;
    llvm::sys::fs::create_directory(dir);
    std::string config =
        std::string("{\"model_type\": \"llama\", \"hidden_size\": 32, \"intermediate_size\": 64, "
                    "\"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"vocab_size\": 16, "
                    "\"max_position_embeddings\": 16, \"tie_word_embeddings\": true, "
                    "\"quantization_config\": {\"quant_method\": \"") +
        method + "\", \"bits\": 4, \"group_size\": 16}}";
    writeFile(dir + "/config.json", (const uint8_t *)config.data(), config.size());
  }
  return dir;
}

void toGgufMetadata(const std::string &path, int64_t vocab) {
  auto meta = qopt::ggufTokenizerMetadata(path, vocab);
  if (!meta)
    llvm::consumeError(meta.takeError());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  int reader = data[0] % 8;
  if (reader >= 6) {
    const std::string &dir = quantizedDir(reader == 6 ? "gptq" : "awq");
    writeFile(dir + "/model.safetensors", data + 1, size - 1);
    auto model = qopt::importHuggingFace(dir);
    if (!model)
      llvm::consumeError(model.takeError());
    return 0;
  }
  const std::string &dir = workDir();
  std::string path = dir + (reader == 0   ? "/model.bin"
                            : reader == 1 ? "/model.safetensors"
                            : reader == 2 ? "/config.json"
                            : reader == 3 ? "/model.gguf"
                            : reader == 4 ? "/tokenizer.json"
                                          : "/tokenizer.qtok");
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
  } else if (reader == 4) {
    auto qtok = qopt::convertHfTokenizer(path, 0);
    if (!qtok) {
      llvm::consumeError(qtok.takeError());
    } else {
      std::string qtokPath = dir + "/converted.qtok";
      writeFile(qtokPath, (const uint8_t *)qtok->data(), qtok->size());
      toGgufMetadata(qtokPath, qtokVocab(*qtok));
      std::remove(qtokPath.c_str());
    }
  } else if (reader == 5) {
    std::string bytes = "QTOK" + std::string((const char *)data + 1, size - 1);
    writeFile(path, (const uint8_t *)bytes.data(), bytes.size());
    toGgufMetadata(path, qtokVocab(bytes));
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
      auto tok = qopt::runtimeTokenizerFromGguf(*file);
      if (!tok)
        llvm::consumeError(tok.takeError());
    }
  }
  std::remove(path.c_str());
  return 0;
}
