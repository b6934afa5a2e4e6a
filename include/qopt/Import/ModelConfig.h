//===- ModelConfig.h - hyperparameters of a Llama-family model --*- C++ -*-===//
#ifndef QOPT_IMPORT_MODELCONFIG_H
#define QOPT_IMPORT_MODELCONFIG_H

#include "qopt/Support/ParameterStore.h"

#include "llvm/Support/Error.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace qopt {

enum class RopePairing { Interleaved, RotateHalf };

struct ModelConfig {
  int64_t dim = 0;
  int64_t hiddenDim = 0;
  int64_t numLayers = 0;
  int64_t numHeads = 0;
  int64_t numKvHeads = 0;
  int64_t vocabSize = 0;
  int64_t maxSeqLen = 0;
  float normEps = 1e-5f;
  float ropeTheta = 10000.0f;
  bool tiedClassifier = true;
  RopePairing rope = RopePairing::Interleaved;
  /// Rope scaling: a multiplier per frequency (head_dim / 2 of them; empty
  /// for none) and what config.json asked for ("llama3 x8", "linear x2").
  std::vector<float> ropeFreqScale;
  std::string ropeScaling;
  /// Biases on the q, k and v projections (Qwen2): parameters bq, bk, bv.
  bool qkvBias = false;
  /// Mistral's sliding_window: a position attends to the last this many
  /// positions (itself included); 0 for full causal attention.
  int64_t slidingWindow = 0;
  /// head_dim when config.json gives one that is not dim / numHeads (the
  /// attention is then numHeads * headDim wide, not dim); 0 otherwise.
  int64_t explicitHeadDim = 0;
  /// Where it came from, for reports ("llama2.c v0", "hf safetensors", ...).
  std::string source;

  int64_t headDim() const {
    return explicitHeadDim ? explicitHeadDim : numHeads ? dim / numHeads : 0;
  }
  /// Width of the queries and of the attention output (o_proj's input).
  int64_t qDim() const { return numHeads * headDim(); }
  int64_t kvDim() const { return numKvHeads * headDim(); }
  /// Checks the numbers are positive and consistent with each other.
  llvm::Error validate() const;
};

/// Canonical parameter names, shared by every importer and the graph builder.
namespace param {
std::string tokEmbeddings();
std::string finalNorm();
std::string classifier();
std::string layer(int64_t i, const char *leaf);
} // namespace param

/// An integer scheme a weight arrives in already quantized (a GGUF block
/// type): the graph reads it through qnt.qparam, its tensors stored as
/// qmath::storeQuantized writes them.
struct ImportedQuantScheme {
  int64_t bits = 4;
  int64_t groupSize = 32;
  bool symmetric = true;
};

/// The result of an importer: configuration plus weights under canonical names.
struct ImportedModel {
  ModelConfig config;
  std::shared_ptr<ParameterStore> params;
  /// Canonical names of the weights stored quantized, with their scheme.
  std::map<std::string, ImportedQuantScheme> quantized;
  /// A tokenizer carried inside the checkpoint (a GGUF's vocabulary), in
  /// llama2.c's tokenizer.bin format; empty when it carries none.
  std::string tokenizerBytes;
  /// What was converted on the way in (one line each, for the user).
  std::vector<std::string> notes;
};

/// Fails if any floating-point parameter holds NaN or Inf, naming it.
llvm::Error checkFiniteParameters(const ParameterStore &store);

} // namespace qopt

#endif
