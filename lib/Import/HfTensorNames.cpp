//===- HfTensorNames.cpp - Hugging Face Llama-family tensor names ---------===//
#include "qopt/Import/HfTensorNames.h"

namespace qopt {

std::map<std::string, HfTensor> hfTensorNames(const ModelConfig &c) {
  std::map<std::string, HfTensor> m;
  int64_t D = c.dim, H = c.hiddenDim, Q = c.qDim(), KV = c.kvDim();
  m["model.embed_tokens.weight"] = {param::tokEmbeddings(), {c.vocabSize, D}};
  m["model.norm.weight"] = {param::finalNorm(), {D}};
  if (!c.tiedClassifier)
    m["lm_head.weight"] = {param::classifier(), {c.vocabSize, D}};
  for (int64_t l = 0; l < c.numLayers; ++l) {
    std::string p = "model.layers." + std::to_string(l) + ".";
    m[p + "input_layernorm.weight"] = {param::layer(l, "attention_norm"), {D}};
    m[p + "post_attention_layernorm.weight"] = {param::layer(l, "ffn_norm"), {D}};
    m[p + "self_attn.q_proj.weight"] = {param::layer(l, "wq"), {Q, D}};
    m[p + "self_attn.k_proj.weight"] = {param::layer(l, "wk"), {KV, D}};
    m[p + "self_attn.v_proj.weight"] = {param::layer(l, "wv"), {KV, D}};
    if (c.qkvBias) {
      m[p + "self_attn.q_proj.bias"] = {param::layer(l, "bq"), {Q}};
      m[p + "self_attn.k_proj.bias"] = {param::layer(l, "bk"), {KV}};
      m[p + "self_attn.v_proj.bias"] = {param::layer(l, "bv"), {KV}};
    }
    m[p + "self_attn.o_proj.weight"] = {param::layer(l, "wo"), {D, Q}};
    m[p + "mlp.gate_proj.weight"] = {param::layer(l, "w1"), {H, D}};
    m[p + "mlp.down_proj.weight"] = {param::layer(l, "w2"), {D, H}};
    m[p + "mlp.up_proj.weight"] = {param::layer(l, "w3"), {H, D}};
  }
  return m;
}

} // namespace qopt
