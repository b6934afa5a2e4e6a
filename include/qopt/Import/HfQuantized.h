//===- HfQuantized.h - GPTQ / AWQ packed linears of a HF checkpoint -*- C++ -*-===//
//
// A Hugging Face checkpoint quantized by AutoGPTQ / GPTQModel (quant_method
// "gptq") or AutoAWQ (quant_method "awq", GEMM packing) stores each
// quantized linear `X` as X.qweight, X.qzeros, X.scales (and, for GPTQ,
// X.g_idx) instead of X.weight. These are unpacked into qmath's form and
// kept as qnt qparams, codes, scales and zero points exactly as stored;
// a linear whose groups qnt cannot hold exactly (act-order g_idx, a ragged
// last group, GPTQ v1's zero point 2^bits) becomes its exact dequantized
// f32 values, with a note.
//
//===----------------------------------------------------------------------===//
#ifndef QOPT_IMPORT_HFQUANTIZED_H
#define QOPT_IMPORT_HFQUANTIZED_H

#include "qopt/Import/HfTensorNames.h"
#include "qopt/Import/ModelConfig.h"

#include <nlohmann/json.hpp>

#include <map>
#include <string>

namespace qopt {

/// What quantization_config says about the packed linears.
struct HfQuantConfig {
  enum class Method { None, Gptq, Awq };
  Method method = Method::None;
  int64_t bits = 0;
  int64_t groupSize = 0; // input channels per group; 0: the whole row
  /// GPTQ's v1 checkpoint format stores zero points minus one.
  bool zerosMinusOne = false;
  /// "gptq 4-bit g128", for notes.
  std::string describe() const;
};

/// quantization_config from config.json (`config`, read from `configPath`),
/// or from quantize_config.json beside it as older AutoGPTQ wrote it; an
/// unsupported method or packing is refused by name.
llvm::Expected<HfQuantConfig> parseHfQuantConfig(const nlohmann::json &config,
                                                 llvm::StringRef configPath);

/// Collects the packed tensors of a checkpoint's linears across its shards,
/// then unpacks them into the model's parameter store.
class HfPackedLinears {
public:
  HfPackedLinears(HfQuantConfig config, const std::map<std::string, HfTensor> &names)
      : config(std::move(config)), names(names) {}

  /// Takes `name` (from `shard`) when it is a packed tensor of a known
  /// linear (true), leaves it (false), or fails: a packed tensor in a
  /// checkpoint without quantization_config, or one seen twice.
  llvm::Expected<bool> take(llvm::StringRef shard, const std::string &name, TensorView view);

  /// Unpacks every linear taken, stores it under its canonical name and
  /// erases its "X.weight" from `missing` (the tensors not yet found).
  llvm::Error unpackInto(ImportedModel &model, std::map<std::string, HfTensor> &missing);

private:
  struct Packed {
    std::map<std::string, TensorView> parts; // "qweight", "qzeros", "scales", "g_idx"
  };
  HfQuantConfig config;
  const std::map<std::string, HfTensor> &names;
  std::map<std::string, Packed> linears; // by HF base name ("model.layers.0.mlp.up_proj")
};

} // namespace qopt

#endif
