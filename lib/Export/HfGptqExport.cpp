//===- HfGptqExport.cpp - a qnt model as a Hugging Face GPTQ directory ----===//
#include "qopt/Export/HfGptqExport.h"

#include "Qnt/Utils/QuantScheme.h"
#include "qopt/Export/ModelWeights.h"
#include "qopt/Import/HfTensorNames.h"
#include "qopt/Support/DType.h"
#include "qopt/Support/Error.h"
#include "qopt/Support/SafeTensors.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <nlohmann/json.hpp>

#include <cstring>
#include <map>

namespace qopt {

using qmath::QuantizedWeight;
using qmath::Scheme;

namespace {

template <typename T>
TensorView ownedView(DType dtype, std::vector<int64_t> shape, std::vector<T> values) {
  auto owner = std::make_shared<std::vector<T>>(std::move(values));
  TensorView v;
  v.dtype = dtype;
  v.shape = std::move(shape);
  v.data = reinterpret_cast<const uint8_t *>(owner->data());
  v.nbytes = owner->size() * sizeof(T);
  v.owner = owner;
  return v;
}

bool isLinear(llvm::StringRef canonical) {
  llvm::StringRef leaf = canonical.rsplit('.').second;
  return canonical.starts_with("layers.") &&
         (leaf == "wq" || leaf == "wk" || leaf == "wv" || leaf == "wo" || leaf == "w1" ||
          leaf == "w2" || leaf == "w3");
}

/// AutoGPTQ's packing of one linear (see the header), q rows permuted first
/// when `rowOrder` is given.
struct PackedLinear {
  std::vector<int32_t> qweight, qzeros, gIdx;
  std::vector<uint16_t> scales;
};

PackedLinear pack(const QuantizedWeight &q, int64_t groupWidth,
                  const std::vector<int64_t> *rowOrder) {
  const int64_t N = q.rows, K = q.cols, b = q.scheme.bits, per = 32 / b;
  const int64_t G = K / groupWidth;
  qmath::GroupLayout layout = q.layout();
  auto row = [&](int64_t n) { return rowOrder ? (*rowOrder)[size_t(n)] : n; };
  PackedLinear p;
  p.qweight.assign(size_t(K / per * N), 0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k) {
      uint32_t code = q.codes[size_t(row(n) * K + k)];
      uint32_t &word = reinterpret_cast<uint32_t &>(p.qweight[size_t((k / per) * N + n)]);
      word |= code << (b * (k % per));
    }
  p.qzeros.assign(size_t(G * (N / per)), 0);
  p.scales.assign(size_t(G * N), 0);
  for (int64_t g = 0; g < G; ++g)
    for (int64_t n = 0; n < N; ++n) {
      const qmath::GroupParams &gp = q.params[size_t(layout.index(row(n), g * groupWidth))];
      p.scales[size_t(g * N + n)] = floatToHalf(gp.scale);
      uint32_t stored = uint32_t(int64_t(gp.zero) - 1) & uint32_t(q.scheme.maxCode());
      uint32_t &word = reinterpret_cast<uint32_t &>(p.qzeros[size_t(g * (N / per) + n / per)]);
      word |= stored << (b * (n % per));
    }
  p.gIdx.resize(size_t(K));
  for (int64_t k = 0; k < K; ++k)
    p.gIdx[size_t(k)] = int32_t(k / groupWidth);
  return p;
}

/// Why `q` cannot go into the common `scheme` with groups of `groupWidth`
/// ("" when it can).
std::string misfit(const QuantizedWeight &q, const Scheme &common, int64_t groupWidth) {
  const Scheme &s = q.scheme;
  if (s.format != qnt::WeightFormat::Int || s.doubleQuant || !q.outlierIndex.empty())
    return s.describe() + " has no GPTQ form";
  if (s.bits != common.bits || s.groupSize != common.groupSize ||
      s.symmetric != common.symmetric)
    return s.describe() + " differs from the other linears' " + common.describe() +
           " (one scheme per GPTQ checkpoint)";
  if (s.groupSize < 0)
    return "per-tensor scales have no GPTQ form";
  if (q.cols % groupWidth)
    return std::to_string(q.cols) + " input channels are not whole groups of " +
           std::to_string(groupWidth);
  if (q.cols % (32 / s.bits))
    return std::to_string(q.cols) + " input channels do not pack into 32-bit words";
  if (q.rows % (32 / s.bits))
    return std::to_string(q.rows) + " output channels do not pack into 32-bit words";
  for (const qmath::GroupParams &p : q.params)
    if (p.zero < 1)
      return "a zero point of 0, which the v1 format's zero - 1 cannot hold";
  return "";
}

nlohmann::json configJson(const ModelConfig &c, const Scheme &s, int64_t groupSize) {
  nlohmann::json j = {
      {"architectures", {c.qkvBias ? "Qwen2ForCausalLM" : c.slidingWindow
                                                              ? "MistralForCausalLM"
                                                              : "LlamaForCausalLM"}},
      {"model_type", c.qkvBias ? "qwen2" : c.slidingWindow ? "mistral" : "llama"},
      {"hidden_size", c.dim},
      {"intermediate_size", c.hiddenDim},
      {"num_hidden_layers", c.numLayers},
      {"num_attention_heads", c.numHeads},
      {"num_key_value_heads", c.numKvHeads},
      {"vocab_size", c.vocabSize},
      {"max_position_embeddings", c.maxSeqLen},
      {"rms_norm_eps", c.normEps},
      {"rope_theta", c.ropeTheta},
      {"tie_word_embeddings", c.tiedClassifier},
      {"hidden_act", "silu"},
      {"torch_dtype", "float16"},
      {"bos_token_id", 1},
      {"eos_token_id", 2},
      {"quantization_config",
       {{"quant_method", "gptq"},
        {"bits", s.bits},
        {"group_size", groupSize},
        {"desc_act", false},
        {"sym", s.symmetric},
        {"static_groups", false},
        {"true_sequential", true},
        {"checkpoint_format", "gptq"}}}};
  if (c.explicitHeadDim)
    j["head_dim"] = c.explicitHeadDim;
  if (c.slidingWindow)
    j["sliding_window"] = c.slidingWindow;
  return j;
}

llvm::Error writeText(llvm::StringRef path, const std::string &text) {
  return writeFileAtomically(path, [&](llvm::raw_ostream &os) {
    os << text;
    return llvm::Error::success();
  });
}

} // namespace

llvm::Expected<HfGptqReport> exportHfGptq(const LoadedModel &model, llvm::StringRef dir) {
  const ModelConfig &c = model.config;
  if (llvm::sys::fs::exists(dir))
    return makeError("-o " + dir + " already exists (the export writes a new directory)");
  if (!c.ropeFreqScale.empty())
    return makeError("rope scaling (" + c.ropeScaling +
                     ") is not written to config.json yet; not exported");
  ModelWeights weights = collectWeights(*model.module);
  if (!weights.foreignOp.empty())
    return makeError("op '" + weights.foreignOp + "' has no Hugging Face GPTQ equivalent");
  if (weights.quantizesActivations)
    return makeError("the model quantizes activations (W8A8), which a GPTQ checkpoint "
                     "cannot carry");

  // canonical -> Hugging Face name
  std::map<std::string, std::string> hfName;
  for (const auto &[hf, t] : hfTensorNames(c))
    hfName[t.canonical] = hf;

  // One scheme for every linear, taken from the first.
  std::optional<Scheme> common;
  int64_t groupWidth = 0;
  std::vector<std::string> refused;
  SafeTensorsFile out;
  HfGptqReport report;
  bool toRotateHalf = c.rope == RopePairing::Interleaved;
  for (const WeightUse &u : weights.uses) {
    std::string name = u.tiedQuantizedClassifier ? "lm_head.weight" : hfName[u.name];
    if (name.empty())
      return makeError("parameter '" + u.name + "' has no Hugging Face name");
    llvm::StringRef leaf = llvm::StringRef(u.name).rsplit('.').second;
    bool qk = leaf == "wq" || leaf == "wk";
    int64_t heads = leaf == "wq" ? c.numHeads : c.numKvHeads;
    if (u.quantized) {
      Scheme s = Scheme::fromAttr(u.scheme);
      auto q = qmath::loadQuantized(*model.params, u.name, s, u.shape[0], u.shape[1],
                                    u.scheme.getOutliers());
      if (!q)
        return q.takeError();
      if (!isLinear(u.name)) {
        // A quantized classifier: transformers keeps lm_head in float, and
        // f32 holds the dequantized values exactly.
        out.tensors[name] = TensorView::fromFloats(u.shape, q->dequantize());
        report.notes.push_back(u.name + " (" + s.describe() +
                               ") written as its exact dequantized f32 values");
        continue;
      }
      if (!common) {
        common = s;
        groupWidth = s.groupSize > 0 ? s.groupSize : u.shape[1];
        report.bits = s.bits;
        report.groupSize = s.groupSize > 0 ? s.groupSize : -1;
        report.symmetric = s.symmetric;
      }
      int64_t width = s.groupSize > 0 ? s.groupSize : u.shape[1];
      std::string why = misfit(*q, *common, width);
      if (why.empty() && s.bits != 2 && s.bits != 4 && s.bits != 8)
        why = s.describe() + ": GPTQ packs 2, 4 and 8 bits";
      if (!why.empty()) {
        refused.push_back(u.name + ": " + why);
        continue;
      }
      std::vector<int64_t> order;
      if (toRotateHalf && qk)
        order = ropeRowsToRotateHalf(u.shape[0], heads);
      PackedLinear p = pack(*q, width, order.empty() ? nullptr : &order);
      std::string base = llvm::StringRef(name).drop_back(strlen(".weight")).str();
      int64_t N = u.shape[0], K = u.shape[1], G = K / width, per = 32 / s.bits;
      out.tensors[base + ".qweight"] = ownedView(DType::I32, {K / per, N}, std::move(p.qweight));
      out.tensors[base + ".qzeros"] = ownedView(DType::I32, {G, N / per}, std::move(p.qzeros));
      out.tensors[base + ".scales"] = ownedView(DType::F16, {G, N}, std::move(p.scales));
      out.tensors[base + ".g_idx"] = ownedView(DType::I32, {K}, std::move(p.gIdx));
      ++report.quantizedLinears;
      continue;
    }
    auto t = model.params->get(u.name);
    if (!t)
      return t.takeError();
    if (isLinear(u.name)) {
      refused.push_back(u.name + ": not quantized (a GPTQ checkpoint quantizes every linear)");
      continue;
    }
    TensorView v = **t;
    if (toRotateHalf && (leaf == "bq" || leaf == "bk")) {
      std::vector<uint8_t> bytes(v.data, v.data + v.nbytes);
      auto permuted = permuteRows(bytes, u.shape[0], ropeRowsToRotateHalf(u.shape[0], heads));
      v = ownedView(v.dtype, v.shape, std::move(permuted));
    }
    out.tensors[name] = v;
  }
  if (!refused.empty()) {
    std::string list;
    for (const std::string &r : refused)
      list += (list.empty() ? "" : "; ") + r;
    return makeError(llvm::Twine(refused.size()) +
                     " linear(s) have no exact GPTQ form: " + list);
  }
  if (!common)
    return makeError("the model has no quantized linear to write as GPTQ");
  out.metadata["format"] = "pt";

  // Assembled in a temporary directory beside `dir`, renamed into place.
  llvm::SmallString<256> tmp(dir);
  tmp += ".tmp-%%%%%%";
  llvm::SmallString<256> tmpDir;
  if (std::error_code ec = llvm::sys::fs::createUniqueDirectory(tmp, tmpDir))
    return makeError("cannot create a directory beside '" + dir + "': " + ec.message());
  auto inTmp = [&](llvm::StringRef file) {
    llvm::SmallString<256> p(tmpDir);
    llvm::sys::path::append(p, file);
    return std::string(p);
  };
  auto fail = [&](llvm::Error err) -> llvm::Error {
    llvm::sys::fs::remove_directories(tmpDir);
    return err;
  };
  if (auto err = writeSafeTensors(inTmp("model.safetensors"), out))
    return fail(std::move(err));
  ModelConfig written = c;
  for (const WeightUse &u : weights.uses)
    if (u.tiedQuantizedClassifier)
      written.tiedClassifier = false; // lm_head is its own (quantized-then-exact) matrix
  if (auto err = writeText(inTmp("config.json"),
                           configJson(written, *common, report.groupSize).dump(2) + "\n"))
    return fail(std::move(err));
  report.files = {"config.json", "model.safetensors"};
  // The tokenizer: Hugging Face's files when the model came with them.
  llvm::StringRef tok = model.tokenizerPath;
  if (llvm::sys::path::filename(tok) == "tokenizer.json") {
    llvm::SmallString<256> src(tok);
    llvm::sys::path::remove_filename(src);
    for (const char *file : {"tokenizer.json", "tokenizer_config.json",
                             "special_tokens_map.json", "generation_config.json"}) {
      llvm::SmallString<256> from(src);
      llvm::sys::path::append(from, file);
      if (!llvm::sys::fs::exists(from))
        continue;
      if (std::error_code ec = llvm::sys::fs::copy_file(from, inTmp(file)))
        return fail(makeError("cannot copy '" + from + "': " + ec.message()));
      report.files.push_back(file);
    }
  } else if (!tok.empty()) {
    if (std::error_code ec = llvm::sys::fs::copy_file(tok, inTmp("tokenizer.bin")))
      return fail(makeError("cannot copy '" + tok + "': " + ec.message()));
    report.files.push_back("tokenizer.bin");
    report.notes.push_back("the tokenizer is llama2.c's tokenizer.bin (copied); transformers "
                           "needs a tokenizer.json");
  }
  if (std::error_code ec = llvm::sys::fs::rename(tmpDir, dir))
    return fail(makeError("cannot rename the export into '" + dir + "': " + ec.message()));
  return report;
}

} // namespace qopt
