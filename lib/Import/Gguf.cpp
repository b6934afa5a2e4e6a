//===- Gguf.cpp - import a GGUF file (llama.cpp's model format) -----------===//
//
// Architectures: llama (Llama, Mistral; q/k rows in interleaved order, as
// llama.cpp stores them) and qwen2 (q/k/v biases, rotate-half rope).
// Weights in Q4_0, Q5_0 and Q8_0, and Q4_1 / Q5_1 whose minimum is an
// integer zero point, become qnt qparams without re-rounding (int4/int5/
// int8 g32, Qnt/Utils/GgmlBlocks.h); F32, F16 and BF16 stay as they are.
// Q4_1 / Q5_1 with arbitrary minima (llama.cpp's own quantizer) and the
// token embedding table, which the graph gathers in float, are dequantized
// to F32, with a note; so are the K-quants Q2_K .. Q6_K (Qnt/Utils/
// GgmlKQuants.h), whose sub-block scales qnt's f16 group scales do not hold.
// The i-quants and others are refused by name.
//
//===----------------------------------------------------------------------===//
#include "qopt/Import/Importers.h"

#include "Qnt/Utils/GgmlBlocks.h"
#include "qopt/Support/Error.h"
#include "qopt/Support/Gguf.h"
#include "qopt/Support/GgufTokenizer.h"

#include <map>
#include <set>

namespace qopt {

using gguf::GgmlType;
using gguf::TensorInfo;
using gguf::Value;

namespace {

class GgufImporter {
public:
  GgufImporter(const gguf::File &file, llvm::StringRef path) : f(file), path(path) {}

  llvm::Expected<ImportedModel> run() {
    const Value *archValue = f.find("general.architecture");
    if (!archValue || archValue->type != gguf::ValueType::String)
      return fail("has no general.architecture string");
    arch = archValue->s;
    if (arch != "llama" && arch != "qwen2")
      return fail("architecture '" + arch + "' is not supported (llama and qwen2 are)");
    ModelConfig &c = model.config;
    if (auto err = readConfig(c))
      return std::move(err);
    model.params = std::make_shared<ParameterStore>();

    if (auto err = take(param::tokEmbeddings(), "token_embd.weight", {c.vocabSize, c.dim},
                        /*keepQuantized=*/false))
      return std::move(err);
    if (auto err = take(param::finalNorm(), "output_norm.weight", {c.dim}, false))
      return std::move(err);
    c.tiedClassifier = !f.tensor("output.weight");
    if (!c.tiedClassifier)
      if (auto err = take(param::classifier(), "output.weight", {c.vocabSize, c.dim}, true))
        return std::move(err);
    for (int64_t l = 0; l < c.numLayers; ++l) {
      std::string blk = "blk." + std::to_string(l) + ".";
      struct Entry {
        const char *leaf, *gguf;
        std::vector<int64_t> shape;
        bool matrix;
      };
      std::vector<Entry> entries = {
          {"attention_norm", "attn_norm.weight", {c.dim}, false},
          {"ffn_norm", "ffn_norm.weight", {c.dim}, false},
          {"wq", "attn_q.weight", {c.qDim(), c.dim}, true},
          {"wk", "attn_k.weight", {c.kvDim(), c.dim}, true},
          {"wv", "attn_v.weight", {c.kvDim(), c.dim}, true},
          {"wo", "attn_output.weight", {c.dim, c.qDim()}, true},
          {"w1", "ffn_gate.weight", {c.hiddenDim, c.dim}, true},
          {"w2", "ffn_down.weight", {c.dim, c.hiddenDim}, true},
          {"w3", "ffn_up.weight", {c.hiddenDim, c.dim}, true}};
      if (c.qkvBias) {
        entries.push_back({"bq", "attn_q.bias", {c.qDim()}, false});
        entries.push_back({"bk", "attn_k.bias", {c.kvDim()}, false});
        entries.push_back({"bv", "attn_v.bias", {c.kvDim()}, false});
      }
      for (const Entry &e : entries)
        if (auto err = take(param::layer(l, e.leaf), blk + e.gguf, e.shape, e.matrix))
          return std::move(err);
    }
    if (dequantized) {
      std::string types;
      for (const std::string &t : dequantizedTypes)
        types += (types.empty() ? "" : ", ") + t;
      model.notes.push_back(std::to_string(dequantized) + " tensor(s) of " + types +
                            " dequantized to F32 (no qnt scheme holds their blocks "
                            "exactly, or the graph reads them in float)");
    }
    if (llvm::Error err = checkFiniteParameters(*model.params))
      return std::move(err);
    auto tok = runtimeTokenizerFromGguf(f);
    if (tok)
      model.tokenizerBytes = std::move(*tok);
    else
      model.notes.push_back("no tokenizer imported: " + llvm::toString(tok.takeError()));
    return std::move(model);
  }

private:
  llvm::Error fail(const llvm::Twine &what) const { return makeError(path + ": " + what); }

  /// An integer key of the architecture (`arch`.`key`).
  llvm::Error readInt(llvm::StringRef key, int64_t &out, bool required) {
    const Value *v = f.find(arch + "." + key.str());
    if (!v) {
      if (required)
        return fail("lacks " + arch + "." + key);
      return llvm::Error::success();
    }
    auto n = v->asInt();
    if (!n || *n < 0 || *n > (int64_t(1) << 31))
      return fail(arch + "." + key + " must be a non-negative integer below 2^31");
    out = *n;
    return llvm::Error::success();
  }

  llvm::Error readFloat(llvm::StringRef key, float &out) {
    const Value *v = f.find(arch + "." + key.str());
    if (!v)
      return llvm::Error::success();
    auto x = v->asFloat();
    if (!x)
      return fail(arch + "." + key + " must be a number");
    out = float(*x);
    return llvm::Error::success();
  }

  llvm::Error readConfig(ModelConfig &c) {
    c.source = "gguf " + arch;
    c.maxSeqLen = 2048;
    for (auto [key, field, required] :
         {std::tuple<const char *, int64_t *, bool>{"embedding_length", &c.dim, true},
          {"feed_forward_length", &c.hiddenDim, true},
          {"block_count", &c.numLayers, true},
          {"attention.head_count", &c.numHeads, true},
          {"context_length", &c.maxSeqLen, false}})
      if (auto err = readInt(key, *field, required))
        return err;
    c.numKvHeads = c.numHeads;
    if (auto err = readInt("attention.head_count_kv", c.numKvHeads, false))
      return err;
    if (auto err = readFloat("attention.layer_norm_rms_epsilon", c.normEps))
      return err;
    if (auto err = readFloat("rope.freq_base", c.ropeTheta))
      return err;
    int64_t keyLength = 0, ropeDims = 0;
    if (auto err = readInt("attention.key_length", keyLength, false))
      return err;
    if (c.numHeads && keyLength && keyLength != c.dim / c.numHeads)
      c.explicitHeadDim = keyLength;
    if (auto err = readInt("rope.dimension_count", ropeDims, false))
      return err;
    if (ropeDims && ropeDims != c.headDim())
      return fail("rotates " + llvm::Twine(ropeDims) + " of " + llvm::Twine(c.headDim()) +
                  " head dimensions; partial rope is not supported");
    if (const Value *scaling = f.find(arch + ".rope.scaling.type"))
      if (scaling->type != gguf::ValueType::String || scaling->s != "none")
        return fail("rope scaling (" + arch + ".rope.scaling.type) is not supported");
    if (f.tensor("rope_freqs.weight"))
      return fail("rope_freqs.weight (per-frequency rope factors) is not supported");
    const TensorInfo *embd = f.tensor("token_embd.weight");
    if (!embd || embd->ne.size() != 2)
      return fail("lacks a 2-D token_embd.weight");
    c.vocabSize = embd->ne[1];
    c.qkvBias = arch == "qwen2";
    c.rope = arch == "qwen2" ? RopePairing::RotateHalf : RopePairing::Interleaved;
    if (auto err = c.validate())
      return fail(llvm::toString(std::move(err)));
    return llvm::Error::success();
  }

  /// Stores GGUF tensor `ggufName` as `name`, checking its shape.
  llvm::Error take(const std::string &name, const std::string &ggufName,
                   const std::vector<int64_t> &shape, bool keepQuantized) {
    const TensorInfo *t = f.tensor(ggufName);
    if (!t)
      return fail("lacks tensor '" + ggufName + "'");
    if (t->shape() != shape) {
      std::string want, got;
      for (int64_t d : shape)
        want += (want.empty() ? "" : "x") + std::to_string(d);
      for (int64_t d : t->shape())
        got += (got.empty() ? "" : "x") + std::to_string(d);
      return fail("tensor '" + ggufName + "' is " + got + ", the model needs " + want);
    }
    GgmlType type = GgmlType(t->type);
    if (type == GgmlType::F32 || type == GgmlType::F16 || type == GgmlType::BF16) {
      TensorView v;
      v.dtype = type == GgmlType::F32 ? DType::F32
                : type == GgmlType::F16 ? DType::F16
                                        : DType::BF16;
      v.shape = shape;
      v.data = t->data;
      v.nbytes = size_t(t->nbytes);
      v.owner = f.buffer;
      model.params->set(name, std::move(v));
      return llvm::Error::success();
    }
    if (!ggml::canDequantize(t->type))
      return fail("tensor '" + ggufName + "' is " + gguf::typeName(t->type) +
                  ", which qopt does not read (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 "
                  "and Q2_K to Q6_K it does)");
    if (keepQuantized && shape.size() == 2) {
      if (auto q = ggml::toQuantized(type, t->data, shape[0], shape[1])) {
        qmath::storeQuantized(*model.params, name, *q);
        model.quantized[name] = {q->scheme.bits, q->scheme.groupSize, q->scheme.symmetric};
        return llvm::Error::success();
      }
    }
    ++dequantized;
    dequantizedTypes.insert(gguf::typeName(t->type));
    model.params->set(name, TensorView::fromFloats(shape, ggml::dequantize(type, t->data,
                                                                          t->numel())));
    return llvm::Error::success();
  }

  const gguf::File &f;
  std::string path, arch;
  ImportedModel model;
  int64_t dequantized = 0;
  std::set<std::string> dequantizedTypes;
};

} // namespace

llvm::Expected<ImportedModel> importGguf(llvm::StringRef path) {
  auto file = gguf::read(path);
  if (!file)
    return file.takeError();
  return GgufImporter(*file, path).run();
}

} // namespace qopt
