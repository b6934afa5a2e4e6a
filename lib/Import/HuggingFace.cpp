//===- HuggingFace.cpp - Hugging Face Llama-family directory reader --------===//
//
// config.json gives the shape; weights come from model.safetensors or from the
// shards listed in model.safetensors.index.json. HF stores q_proj/k_proj rows
// permuted for rotate-half rotary embeddings; we keep them as they are and
// mark the graph's rope ops rotate_half, so weights stay byte-identical to HF.
// GPTQ and AWQ checkpoints' packed linears are read by HfQuantized.cpp.
//
//===----------------------------------------------------------------------===//
#include "qopt/Import/Importers.h"
#include "qopt/Import/ConfigFields.h"
#include "qopt/Import/HfQuantized.h"
#include "qopt/Import/HfTensorNames.h"
#include "qopt/Import/RopeScaling.h"

#include "qopt/Support/Error.h"
#include "qopt/Support/SafeTensors.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <set>

using nlohmann::json;

namespace qopt {

namespace {

/// config.json's rope_scaling: {"rope_type" (or "type"): "llama3" | "linear"
/// | "default", with its numbers}; anything else is refused by name.
llvm::Error parseRopeScaling(const json &scaling, llvm::StringRef path, ModelConfig &c) {
  std::string where = (path + ": rope_scaling").str();
  if (!scaling.is_object())
    return makeError(where + " must be an object or null, not " + scaling.type_name());
  ConfigFields f(scaling, where);
  const char *typeKey = f.has("rope_type") ? "rope_type" : "type";
  auto type = f.optionalString(typeKey, "");
  if (!type)
    return type.takeError();
  if (*type == "default")
    return llvm::Error::success();
  auto factor = f.requirePositive("factor");
  if (!factor)
    return factor.takeError();
  char factorText[32];
  std::snprintf(factorText, sizeof factorText, " x%g", *factor);
  std::string times = factorText;
  if (*type == "linear") {
    c.ropeFreqScale = linearFreqScale(c.headDim(), *factor);
    c.ropeScaling = "linear" + times;
    return llvm::Error::success();
  }
  if (*type != "llama3")
    return makeError(where + ": rope type '" + *type +
                     "' is not supported (llama3, linear, default)");
  auto low = f.requirePositive("low_freq_factor");
  auto high = f.requirePositive("high_freq_factor");
  auto original = f.requirePositive("original_max_position_embeddings");
  for (auto *e : {&low, &high, &original})
    if (!*e)
      return e->takeError();
  if (!(*low < *high))
    return makeError(where + ": low_freq_factor must be below high_freq_factor");
  c.ropeFreqScale = llama3FreqScale(c.ropeTheta, c.headDim(), *factor, *low, *high, *original);
  c.ropeScaling = "llama3" + times;
  return llvm::Error::success();
}

/// Mistral's sliding_window: attention sees only the last `window`
/// positions (qnt.attention's window).
llvm::Error checkSlidingWindow(const ConfigFields &fields, llvm::StringRef path, ModelConfig &c) {
  if (!fields.has("sliding_window"))
    return llvm::Error::success();
  auto use = fields.optionalBool("use_sliding_window", true); // Qwen2 names it off this way
  if (!use)
    return use.takeError();
  auto window = fields.optionalInt("sliding_window", 0);
  if (!window)
    return window.takeError();
  if (!*use)
    return llvm::Error::success();
  if (*window <= 0)
    return makeError(path + ": sliding_window must be positive, got " + llvm::Twine(*window));
  if (*window > c.maxSeqLen)
    return makeError(path + ": sliding_window " + llvm::Twine(*window) +
                     " is larger than the context (max_position_embeddings " +
                     llvm::Twine(c.maxSeqLen) + ")");
  c.slidingWindow = *window;
  return llvm::Error::success();
}

llvm::Expected<ModelConfig> parseConfig(const json &cfg, llvm::StringRef path) {
  ConfigFields fields(cfg, path);
  ModelConfig c;
  c.source = "hf safetensors";
  c.rope = RopePairing::RotateHalf;
  auto type = fields.optionalString("model_type", "llama");
  if (!type)
    return type.takeError();
  if (*type != "llama" && *type != "mistral" && *type != "qwen2")
    return makeError(path + ": model_type '" + *type +
                     "' is not supported (llama, mistral, qwen2)");
  c.qkvBias = *type == "qwen2"; // Qwen2Attention: q/k/v_proj with bias, o_proj without
  struct { const char *key; int64_t *field; } required[] = {
      {"hidden_size", &c.dim}, {"intermediate_size", &c.hiddenDim},
      {"num_hidden_layers", &c.numLayers}, {"num_attention_heads", &c.numHeads},
      {"vocab_size", &c.vocabSize}};
  for (auto &r : required) {
    auto v = fields.requireInt(r.key);
    if (!v)
      return v.takeError();
    *r.field = *v;
  }
  auto kv = fields.optionalInt("num_key_value_heads", c.numHeads);
  if (!kv)
    return kv.takeError();
  auto seq = fields.optionalInt("max_position_embeddings", 2048);
  if (!seq)
    return seq.takeError();
  c.numKvHeads = *kv;
  c.maxSeqLen = *seq;
  auto eps = fields.optionalFloat("rms_norm_eps", 1e-6f);
  if (!eps)
    return eps.takeError();
  auto theta = fields.optionalFloat("rope_theta", 10000.0f);
  if (!theta)
    return theta.takeError();
  c.normEps = *eps;
  c.ropeTheta = *theta;
  auto tied = fields.optionalBool("tie_word_embeddings", false);
  if (!tied)
    return tied.takeError();
  c.tiedClassifier = *tied;
  auto attentionBias = fields.optionalBool("attention_bias", false);
  if (!attentionBias)
    return attentionBias.takeError();
  if (*attentionBias) // Llama's flag puts a bias on o_proj too
    return makeError(path + ": attention_bias is not supported (q/k/v biases are, as qwen2)");
  auto act = fields.optionalString("hidden_act", "silu");
  if (!act)
    return act.takeError();
  if (*act != "silu")
    return makeError(path + ": hidden_act '" + *act + "' is not supported (silu)");
  // head_dim (Mistral-Nemo, Qwen3-style configs) may differ from
  // hidden_size / num_attention_heads: q_proj is then heads * head_dim wide.
  auto headDim = fields.optionalInt("head_dim", 0);
  if (!headDim)
    return headDim.takeError();
  if (fields.has("head_dim") && *headDim <= 0)
    return makeError(path + ": head_dim must be positive, got " + llvm::Twine(*headDim));
  if (*headDim > 0 && (c.numHeads <= 0 || c.dim % c.numHeads != 0 || c.dim / c.numHeads != *headDim))
    c.explicitHeadDim = *headDim;
  if (llvm::Error err = c.validate())
    return makeError(path + ": " + llvm::toString(std::move(err)));
  if (fields.has("rope_scaling"))
    if (llvm::Error err = parseRopeScaling(cfg.at("rope_scaling"), path, c))
      return std::move(err);
  if (auto err = checkSlidingWindow(fields, path, c))
    return std::move(err);
  return c;
}

/// The safetensors files that make up the checkpoint.
llvm::Expected<std::vector<std::string>> findShards(llvm::StringRef dir) {
  llvm::SmallString<256> single(dir), index(dir);
  llvm::sys::path::append(single, "model.safetensors");
  llvm::sys::path::append(index, "model.safetensors.index.json");
  if (llvm::sys::fs::exists(single))
    return std::vector<std::string>{std::string(single)};
  if (!llvm::sys::fs::exists(index))
    return makeError(dir + ": no model.safetensors or model.safetensors.index.json");
  auto idx = readJsonObject(index);
  if (!idx)
    return idx.takeError();
  if (!idx->contains("weight_map") || !(*idx)["weight_map"].is_object())
    return makeError(index + ": missing 'weight_map' object");
  std::set<std::string> files;
  for (auto it = (*idx)["weight_map"].begin(); it != (*idx)["weight_map"].end(); ++it) {
    if (!it.value().is_string())
      return makeError(index + ": weight_map entry '" + it.key() + "' is not a file name");
    std::string file = it.value().get<std::string>();
    if (file.find('/') != std::string::npos)
      return makeError(index + ": shard name '" + file + "' must be a plain file name");
    llvm::SmallString<256> shard(dir);
    llvm::sys::path::append(shard, file);
    files.insert(std::string(shard));
  }
  return std::vector<std::string>(files.begin(), files.end());
}

std::string shapeString(const std::vector<int64_t> &shape) {
  TensorView v;
  v.shape = shape;
  return v.shapeString();
}

} // namespace

llvm::Expected<ImportedModel> importHuggingFace(llvm::StringRef dir) {
  llvm::SmallString<256> configPath(dir);
  llvm::sys::path::append(configPath, "config.json");
  auto configJson = readJsonObject(configPath);
  if (!configJson)
    return configJson.takeError();
  auto config = parseConfig(*configJson, configPath);
  if (!config)
    return config.takeError();
  auto quantization = parseHfQuantConfig(*configJson, configPath);
  if (!quantization)
    return quantization.takeError();
  auto shards = findShards(dir);
  if (!shards)
    return shards.takeError();

  ImportedModel model;
  model.config = *config;
  model.params = std::make_shared<ParameterStore>();
  const std::map<std::string, HfTensor> names = hfTensorNames(*config);
  std::map<std::string, HfTensor> expected = names;
  HfPackedLinears packed(*quantization, names);
  for (const std::string &shard : *shards) {
    auto file = readSafeTensors(shard);
    if (!file)
      return file.takeError();
    for (auto &[name, view] : file->tensors) {
      auto taken = packed.take(shard, name, view);
      if (!taken)
        return taken.takeError();
      if (*taken)
        continue;
      auto it = expected.find(name);
      if (it == expected.end()) {
        // Rotary caches some exporters store are recomputed; anything else
        // means an architecture we do not model.
        if (llvm::StringRef(name).ends_with("rotary_emb.inv_freq"))
          continue;
        if (name == "lm_head.weight" && config->tiedClassifier)
          continue;
        return makeError(shard + ": unexpected tensor '" + name +
                         "' for a model of this config.json's model_type");
      }
      if (view.dtype != DType::F32 && view.dtype != DType::F16 &&
          view.dtype != DType::BF16)
        return makeError(shard + ": tensor '" + name + "' has dtype " +
                         dtypeName(view.dtype) + "; expected F32, F16 or BF16");
      if (view.shape != it->second.shape)
        return makeError(shard + ": tensor '" + name + "' has shape " +
                         view.shapeString() + " but config.json implies " +
                         shapeString(it->second.shape));
      model.params->set(it->second.canonical, std::move(view));
      expected.erase(it);
    }
  }
  if (llvm::Error err = packed.unpackInto(model, expected))
    return makeError(dir + ": " + llvm::toString(std::move(err)));
  if (!expected.empty())
    return makeError(dir + ": tensor '" + expected.begin()->first +
                     "' is missing from the checkpoint");
  if (llvm::Error err = checkFiniteParameters(*model.params))
    return makeError(dir + ": " + llvm::toString(std::move(err)));
  return model;
}

} // namespace qopt
