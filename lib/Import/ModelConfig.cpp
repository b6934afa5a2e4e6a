//===- ModelConfig.cpp -----------------------------------------------------===//
#include "qopt/Import/ModelConfig.h"

#include "qopt/Support/Error.h"

#include <cmath>
#include <cstring>

namespace qopt {

llvm::Error ModelConfig::validate() const {
  auto positive = [](int64_t v) { return v > 0; };
  if (!positive(dim) || !positive(hiddenDim) || !positive(numLayers) ||
      !positive(numHeads) || !positive(numKvHeads) || !positive(vocabSize) ||
      !positive(maxSeqLen))
    return makeError("model dimensions must be positive (dim=" + llvm::Twine(dim) +
                     " hidden_dim=" + llvm::Twine(hiddenDim) + " n_layers=" +
                     llvm::Twine(numLayers) + " n_heads=" + llvm::Twine(numHeads) +
                     " n_kv_heads=" + llvm::Twine(numKvHeads) + " vocab_size=" +
                     llvm::Twine(vocabSize) + " seq_len=" + llvm::Twine(maxSeqLen) + ")");
  // Guard against headers that would make later size arithmetic overflow.
  const int64_t kLimit = int64_t(1) << 24;
  if (dim > kLimit || hiddenDim > kLimit || numLayers > 4096 || vocabSize > kLimit ||
      maxSeqLen > kLimit || numHeads > kLimit)
    return makeError("model dimensions are implausibly large (corrupt header?)");
  if (explicitHeadDim < 0 || explicitHeadDim > 4096)
    return makeError("head_dim " + llvm::Twine(explicitHeadDim) + " is out of range (1..4096)");
  if (qDim() > kLimit)
    return makeError("num_heads * head_dim = " + llvm::Twine(qDim()) + " is implausibly large");
  if (!explicitHeadDim && dim % numHeads != 0)
    return makeError("dim " + llvm::Twine(dim) + " is not divisible by n_heads " +
                     llvm::Twine(numHeads));
  if (numHeads % numKvHeads != 0)
    return makeError("n_heads " + llvm::Twine(numHeads) +
                     " is not a multiple of n_kv_heads " + llvm::Twine(numKvHeads));
  if (headDim() % 2 != 0)
    return makeError("head dimension " + llvm::Twine(headDim()) +
                     " is odd; rotary embeddings need pairs");
  if (!(normEps > 0.0f) || !std::isfinite(normEps))
    return makeError("rms_norm epsilon must be positive and finite");
  if (!(ropeTheta > 0.0f) || !std::isfinite(ropeTheta))
    return makeError("rope theta must be positive and finite");
  return llvm::Error::success();
}

namespace param {
std::string tokEmbeddings() { return "tok_embeddings"; }
std::string finalNorm() { return "norm"; }
std::string classifier() { return "output"; }
std::string layer(int64_t i, const char *leaf) {
  return "layers." + std::to_string(i) + "." + leaf;
}
} // namespace param

llvm::Error checkFiniteParameters(const ParameterStore &store) {
  auto nonFinite = [&](const std::string &name, float value, size_t at) {
    return makeError("parameter '" + name + "' holds a non-finite value (" +
                     (std::isnan(value) ? "NaN" : "Inf") + ") at element " + llvm::Twine(at));
  };
  for (const std::string &name : store.names()) {
    const TensorView *t = store.lookup(name);
    if (t->dtype == DType::F32) {
      // Scan in place: no copy of what may be a large mmapped tensor.
      for (size_t i = 0; i < size_t(t->numel()); ++i) {
        float v;
        std::memcpy(&v, t->data + 4 * i, 4);
        if (!std::isfinite(v))
          return nonFinite(name, v, i);
      }
    } else if (t->dtype == DType::F16 || t->dtype == DType::BF16) {
      std::vector<float> values = t->toFloats();
      for (size_t i = 0; i < values.size(); ++i)
        if (!std::isfinite(values[i]))
          return nonFinite(name, values[i], i);
    }
  }
  return llvm::Error::success();
}

} // namespace qopt
