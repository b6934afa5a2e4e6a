//===- GgufExport.cpp - a qnt model as a GGUF file for llama.cpp ----------===//
//
// Naming and metadata follow llama.cpp's convert_hf_to_gguf.py for the
// "llama" architecture (and "qwen2" for q/k/v biases). llama.cpp's llama
// rotates adjacent pairs (llama2.c's order); a model imported from Hugging
// Face keeps rotate-half q/k rows, which are permuted back here (a row
// permutation moves whole blocks, so it is exact). qwen2 rotates halves in
// llama.cpp too and is written unpermuted.
//
//===----------------------------------------------------------------------===//
#include "qopt/Export/GgufExport.h"

#include "qopt/Export/ModelWeights.h"

#include "Qnt/IR/QntDialect.h"
#include "Qnt/Utils/GgmlBlocks.h"
#include "qopt/Support/GgufTokenizer.h"
#include "qopt/Support/Error.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"

#include <cmath>
#include <cstring>
#include <map>

namespace qopt {

using gguf::GgmlType;
using gguf::Value;

namespace {

/// The GGUF name of a canonical qopt parameter ("" when it has none).
std::string ggufName(llvm::StringRef name) {
  static const std::map<std::string, std::string> top = {
      {"tok_embeddings", "token_embd.weight"},
      {"norm", "output_norm.weight"},
      {"output", "output.weight"}};
  if (auto it = top.find(name.str()); it != top.end())
    return it->second;
  static const std::map<std::string, std::string> leaves = {
      {"attention_norm", "attn_norm.weight"}, {"ffn_norm", "ffn_norm.weight"},
      {"wq", "attn_q.weight"},   {"wk", "attn_k.weight"},   {"wv", "attn_v.weight"},
      {"wo", "attn_output.weight"}, {"w1", "ffn_gate.weight"}, {"w2", "ffn_down.weight"},
      {"w3", "ffn_up.weight"},   {"bq", "attn_q.bias"},     {"bk", "attn_k.bias"},
      {"bv", "attn_v.bias"}};
  llvm::StringRef rest = name;
  if (!rest.consume_front("layers."))
    return "";
  auto [index, leaf] = rest.split('.');
  unsigned layer;
  if (index.getAsInteger(10, layer))
    return "";
  auto it = leaves.find(leaf.str());
  return it == leaves.end() ? "" : "blk." + std::to_string(layer) + "." + it->second;
}

double relativeRmsError(const std::vector<float> &ref, const std::vector<float> &got) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    double d = double(got[i]) - double(ref[i]);
    num += d * d;
    den += double(ref[i]) * double(ref[i]);
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

struct EncodedTensor {
  GgmlType type;
  std::vector<uint8_t> bytes;
  ExportedTensor info;
};

/// A float parameter: matrices keep their type, vectors (norms, biases)
/// become F32 as llama.cpp expects; both exact.
llvm::Expected<EncodedTensor> encodeFloat(const ParameterStore &store, const WeightUse &use) {
  auto t = store.get(use.name);
  if (!t)
    return t.takeError();
  EncodedTensor e;
  const TensorView &v = **t;
  bool vector = v.shape.size() == 1;
  e.type = vector || v.dtype == DType::F32 ? GgmlType::F32
           : v.dtype == DType::F16         ? GgmlType::F16
                                           : GgmlType::BF16;
  if (v.dtype != DType::F32 && v.dtype != DType::F16 && v.dtype != DType::BF16)
    return makeError("parameter '" + use.name + "' is " + dtypeName(v.dtype) +
                     ", which no GGUF float type holds");
  if ((e.type == GgmlType::F32) == (v.dtype == DType::F32)) {
    e.bytes.assign(v.data, v.data + v.nbytes);
  } else {
    std::vector<float> f = v.toFloats();
    e.bytes = ggml::quantizeReference(GgmlType::F32, f.data(), int64_t(f.size()));
  }
  e.info.scheme = dtypeName(v.dtype).lower();
  return e;
}

/// A quantized weight: its exact block type, or (allowed) re-rounded.
llvm::Expected<EncodedTensor> encodeQuantized(const ParameterStore &store, const WeightUse &use,
                                              bool allowRequant, std::string &refusal) {
  qmath::Scheme s = qmath::Scheme::fromAttr(use.scheme);
  auto q = qmath::loadQuantized(store, use.name, s, use.shape[0], use.shape[1],
                                use.scheme.getOutliers());
  if (!q)
    return q.takeError();
  EncodedTensor e;
  e.info.scheme = s.describe();
  ggml::TypeChoice choice = ggml::exactTypeFor(*q);
  if (choice.exact) {
    e.type = *choice.exact;
    e.bytes = ggml::encodeExact(*q, e.type);
    return e;
  }
  e.type = choice.sameCodes ? *choice.sameCodes : ggml::nearestTypeFor(*q);
  if (!allowRequant) {
    refusal = choice.whyNot;
    return e;
  }
  std::vector<float> w = q->dequantize();
  e.bytes = choice.sameCodes ? ggml::encodeExact(*q, e.type)
                             : ggml::quantizeReference(e.type, w.data(), int64_t(w.size()));
  std::vector<float> back = ggml::dequantize(e.type, e.bytes.data(), int64_t(w.size()));
  e.info.relativeError = relativeRmsError(w, back);
  e.info.exact = e.info.relativeError == 0;
  return e;
}

int64_t fileTypeOf(const std::map<GgmlType, int64_t> &elementsByType) {
  // llama_ftype of the type holding most matrix weights (general.file_type).
  GgmlType top = GgmlType::F32;
  int64_t best = -1;
  for (auto [type, n] : elementsByType)
    if (n > best) {
      best = n;
      top = type;
    }
  switch (top) {
  case GgmlType::F16: return 1;
  case GgmlType::Q4_0: return 2;
  case GgmlType::Q4_1: return 3;
  case GgmlType::Q8_0: return 7;
  case GgmlType::Q5_0: return 8;
  case GgmlType::Q5_1: return 9;
  case GgmlType::BF16: return 32;
  default: return 0;
  }
}

} // namespace

llvm::Expected<GgufExportReport> exportGguf(const LoadedModel &model, llvm::StringRef path,
                                            const GgufExportOptions &options) {
  const ModelConfig &c = model.config;
  GgufExportReport report;
  report.architecture = c.qkvBias ? "qwen2" : "llama";
  const std::string arch = report.architecture;
  if (c.qkvBias && c.rope != RopePairing::RotateHalf)
    return makeError("a model with q/k/v biases and interleaved rope has no GGUF architecture");
  bool interleave = arch == "llama" && c.rope == RopePairing::RotateHalf;

  // The graph: only Llama ops, weights by name, activation quantization noted.
  ModelWeights weights = collectWeights(*model.module);
  const std::string &foreign = weights.foreignOp;
  bool activationQuant = weights.quantizesActivations;
  const std::vector<WeightUse> &uses = weights.uses;
  if (!foreign.empty())
    return makeError("op '" + foreign + "' has no GGUF equivalent (GGUF holds the Llama graph)");
  if (activationQuant) {
    if (!options.allowRequant)
      return makeError("the model quantizes activations (W8A8), which GGUF cannot carry; "
                       "--allow-requant exports its weights alone");
    report.notes.push_back("activation quantization dropped: llama.cpp quantizes activations "
                           "its own way (to Q8 blocks for its dot products)");
  }
  if (c.slidingWindow)
    report.notes.push_back("sliding window " + std::to_string(c.slidingWindow) +
                           " is not carried (llama.cpp's llama attends to the whole context)");

  gguf::Writer w;
  std::map<GgmlType, int64_t> matrixElements;
  std::vector<std::string> refused;
  int64_t widenedToF32 = 0;
  for (const WeightUse &u : uses) {
    std::string name = ggufName(u.name);
    if (u.tiedQuantizedClassifier)
      name = "output.weight";
    if (name.empty())
      return makeError("parameter '" + u.name + "' has no GGUF name");
    std::string refusal;
    auto e = u.quantized ? encodeQuantized(*model.params, u, options.allowRequant, refusal)
                         : encodeFloat(*model.params, u);
    if (!e)
      return e.takeError();
    if (!refusal.empty()) {
      refused.push_back(u.name + " (" + e->info.scheme + "): " + refusal);
      continue;
    }
    if (u.quantized && e->type == GgmlType::F32)
      ++widenedToF32;
    int64_t rows = u.shape[0], cols = u.shape.size() > 1 ? u.shape[1] : 1;
    if (interleave && (llvm::StringRef(name).ends_with("attn_q.weight") ||
                       llvm::StringRef(name).ends_with("attn_k.weight")))
      e->bytes = permuteRows(e->bytes, rows,
                             ropeRowsToInterleaved(rows, llvm::StringRef(name).ends_with(
                                                             "attn_q.weight")
                                                             ? c.numHeads
                                                             : c.numKvHeads));
    std::vector<int64_t> ne(u.shape.rbegin(), u.shape.rend());
    e->info.ggufName = name;
    e->info.source = u.name;
    e->info.ggmlType = gguf::typeName(uint32_t(e->type));
    e->info.elements = rows * cols;
    e->info.bytes = int64_t(e->bytes.size());
    if (u.shape.size() == 2)
      matrixElements[e->type] += rows * cols;
    report.tensors.push_back(e->info);
    w.addTensor(name, e->type, std::move(ne), std::move(e->bytes));
  }
  if (!refused.empty()) {
    std::string list;
    for (const std::string &r : refused)
      list += (list.empty() ? "" : "; ") + r;
    return makeError(llvm::Twine(refused.size()) +
                     " weight(s) have no exact GGUF type (--allow-requant re-rounds them): " +
                     list);
  }
  if (widenedToF32)
    report.notes.push_back(std::to_string(widenedToF32) +
                           " quantized weight(s) written as F32, which holds them exactly (their "
                           "rows are not whole blocks of 32)");
  if (!c.ropeFreqScale.empty()) {
    // llama.cpp divides each frequency by rope_freqs; qopt multiplies.
    std::vector<float> factors;
    for (float s : c.ropeFreqScale)
      factors.push_back(1.0f / s);
    w.addTensor("rope_freqs.weight", GgmlType::F32, {int64_t(factors.size())},
                ggml::quantizeReference(GgmlType::F32, factors.data(), int64_t(factors.size())));
    report.notes.push_back("rope scaling " + c.ropeScaling + " written as rope_freqs.weight");
  }

  auto u32 = [](int64_t v) { return Value::ofU32(uint32_t(v)); };
  w.set("general.architecture", Value::ofString(arch));
  w.set("general.name", Value::ofString(options.name));
  w.set("general.file_type", u32(fileTypeOf(matrixElements)));
  w.set("general.quantization_version", u32(2));
  w.set(arch + ".context_length", u32(c.maxSeqLen));
  w.set(arch + ".embedding_length", u32(c.dim));
  w.set(arch + ".block_count", u32(c.numLayers));
  w.set(arch + ".feed_forward_length", u32(c.hiddenDim));
  w.set(arch + ".rope.dimension_count", u32(c.headDim()));
  w.set(arch + ".rope.freq_base", Value::ofF32(c.ropeTheta));
  w.set(arch + ".attention.head_count", u32(c.numHeads));
  w.set(arch + ".attention.head_count_kv", u32(c.numKvHeads));
  w.set(arch + ".attention.layer_norm_rms_epsilon", Value::ofF32(c.normEps));
  w.set(arch + ".vocab_size", u32(c.vocabSize));
  if (c.explicitHeadDim) {
    w.set(arch + ".attention.key_length", u32(c.headDim()));
    w.set(arch + ".attention.value_length", u32(c.headDim()));
  }
  if (model.tokenizerPath.empty())
    return makeError("the model has no tokenizer to write into the GGUF (give --tokenizer)");
  auto vocab = ggufTokenizerMetadata(model.tokenizerPath, c.vocabSize);
  if (!vocab)
    return vocab.takeError();
  for (auto &[key, value] : *vocab)
    w.set(key, std::move(value));

  if (auto err = w.write(path))
    return std::move(err);
  uint64_t size = 0;
  llvm::sys::fs::file_size(path, size);
  report.bytes = int64_t(size);
  return report;
}

} // namespace qopt
