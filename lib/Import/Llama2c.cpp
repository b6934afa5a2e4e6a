//===- Llama2c.cpp - llama2.c checkpoint reader ----------------------------===//
//
// v0 (legacy run.c layout): int32 dim, hidden_dim, n_layers, n_heads,
// n_kv_heads, vocab_size (negative = untied classifier), seq_len; then
// token_embedding, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final,
// freq_cis_real, freq_cis_imag (unused), [wcls].
// v1 (export.py version1_export): u32 magic "ak42", i32 version = 1, the seven
// ints, u8 shared_classifier, zero padding to 256 bytes; then rms_att (all
// layers), rms_ffn, rms_final, token_embedding, wq, wk, wv, wo, w1, w2, w3, [wcls].
//
//===----------------------------------------------------------------------===//
#include "qopt/Import/Importers.h"

#include "qopt/Support/Error.h"

#include "llvm/Support/MemoryBuffer.h"

#include <cstring>

namespace qopt {

namespace {

constexpr uint32_t kMagicV1 = 0x616b3432; // "ak42" read little-endian

/// Hands out consecutive fp32 tensors from the mapped file.
class WeightCursor {
public:
  WeightCursor(std::shared_ptr<llvm::MemoryBuffer> buffer, size_t offset)
      : buffer(std::move(buffer)), offset(offset) {}

  /// Per-layer tensors stored as one block of `layers` consecutive tensors.
  void takeLayered(ParameterStore &store, int64_t layers, const char *leaf,
                   std::vector<int64_t> shape) {
    for (int64_t l = 0; l < layers; ++l)
      take(store, param::layer(l, leaf), shape);
  }

  void take(ParameterStore &store, const std::string &name,
            std::vector<int64_t> shape) {
    TensorView view;
    view.dtype = DType::F32;
    view.shape = std::move(shape);
    view.nbytes = size_t(view.numel()) * 4;
    view.data = reinterpret_cast<const uint8_t *>(buffer->getBufferStart()) + offset;
    view.owner = buffer;
    offset += view.nbytes;
    store.set(name, std::move(view));
  }

  void skipFloats(int64_t n) { offset += size_t(n) * 4; }
  size_t position() const { return offset; }

private:
  std::shared_ptr<llvm::MemoryBuffer> buffer;
  size_t offset;
};

/// Bytes of fp32 weights that a checkpoint with this config holds.
uint64_t weightBytes(const ModelConfig &c, bool withFreqCis) {
  uint64_t L = c.numLayers, D = c.dim, H = c.hiddenDim, KV = c.kvDim();
  uint64_t floats = uint64_t(c.vocabSize) * D      // embedding
                    + 2 * L * D + D                 // norms
                    + L * D * D * 2 + L * D * KV * 2 // wq, wo, wk, wv
                    + L * D * H * 3;                // w1, w2, w3
  if (withFreqCis)
    floats += uint64_t(c.maxSeqLen) * c.headDim(); // real + imag halves
  if (!c.tiedClassifier)
    floats += uint64_t(c.vocabSize) * D;
  return floats * 4;
}

} // namespace

llvm::Expected<ImportedModel> importLlama2c(llvm::StringRef path) {
  auto bufferOr = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                              /*RequiresNullTerminator=*/false);
  if (!bufferOr)
    return makeError("cannot open checkpoint '" + path +
                     "': " + bufferOr.getError().message());
  std::shared_ptr<llvm::MemoryBuffer> buffer = std::move(*bufferOr);
  const char *bytes = buffer->getBufferStart();
  uint64_t size = buffer->getBufferSize();
  auto readI32 = [&](size_t at) {
    int32_t v;
    std::memcpy(&v, bytes + at, 4);
    return v;
  };
  if (size < 28)
    return makeError(path + ": too short for a llama2.c header (" + llvm::Twine(size) +
                     " bytes)");

  ImportedModel model;
  ModelConfig &c = model.config;
  size_t headerBytes;
  bool v1 = uint32_t(readI32(0)) == kMagicV1;
  if (v1) {
    if (size < 256)
      return makeError(path + ": truncated llama2.c v1 header");
    int32_t version = readI32(4);
    if (version != 1)
      return makeError(path + ": llama2.c export version " + llvm::Twine(version) +
                       " is not supported (only the fp32 v0 and v1 layouts are)");
    c.dim = readI32(8), c.hiddenDim = readI32(12), c.numLayers = readI32(16);
    c.numHeads = readI32(20), c.numKvHeads = readI32(24), c.vocabSize = readI32(28);
    c.maxSeqLen = readI32(32);
    c.tiedClassifier = bytes[36] != 0;
    headerBytes = 256;
    c.source = "llama2.c v1";
  } else {
    c.dim = readI32(0), c.hiddenDim = readI32(4), c.numLayers = readI32(8);
    c.numHeads = readI32(12), c.numKvHeads = readI32(16);
    int32_t vocab = readI32(20);
    c.tiedClassifier = vocab > 0;
    c.vocabSize = vocab < 0 ? -int64_t(vocab) : vocab;
    c.maxSeqLen = readI32(24);
    headerBytes = 28;
    c.source = "llama2.c v0";
  }
  if (llvm::Error err = c.validate())
    return makeError(path + ": " + llvm::toString(std::move(err)));

  uint64_t expected = headerBytes + weightBytes(c, /*withFreqCis=*/!v1);
  if (size != expected)
    return makeError(path + ": header (dim=" + llvm::Twine(c.dim) + ", layers=" +
                     llvm::Twine(c.numLayers) + ", vocab=" + llvm::Twine(c.vocabSize) +
                     ") implies " + llvm::Twine(expected) + " bytes but the file has " +
                     llvm::Twine(size) + (size < expected ? " (truncated)" : " (corrupt)"));

  auto store = std::make_shared<ParameterStore>();
  int64_t L = c.numLayers, D = c.dim, H = c.hiddenDim, KV = c.kvDim();
  WeightCursor cur(buffer, headerBytes);
  if (v1) {
    cur.takeLayered(*store, L, "attention_norm", {D});
    cur.takeLayered(*store, L, "ffn_norm", {D});
    cur.take(*store, param::finalNorm(), {D});
    cur.take(*store, param::tokEmbeddings(), {c.vocabSize, D});
    cur.takeLayered(*store, L, "wq", {D, D});
    cur.takeLayered(*store, L, "wk", {KV, D});
    cur.takeLayered(*store, L, "wv", {KV, D});
    cur.takeLayered(*store, L, "wo", {D, D});
    cur.takeLayered(*store, L, "w1", {H, D});
    cur.takeLayered(*store, L, "w2", {D, H});
    cur.takeLayered(*store, L, "w3", {H, D});
  } else {
    cur.take(*store, param::tokEmbeddings(), {c.vocabSize, D});
    cur.takeLayered(*store, L, "attention_norm", {D});
    cur.takeLayered(*store, L, "wq", {D, D});
    cur.takeLayered(*store, L, "wk", {KV, D});
    cur.takeLayered(*store, L, "wv", {KV, D});
    cur.takeLayered(*store, L, "wo", {D, D});
    cur.takeLayered(*store, L, "ffn_norm", {D});
    cur.takeLayered(*store, L, "w1", {H, D});
    cur.takeLayered(*store, L, "w2", {D, H});
    cur.takeLayered(*store, L, "w3", {H, D});
    cur.take(*store, param::finalNorm(), {D});
    cur.skipFloats(c.maxSeqLen * c.headDim()); // freq_cis_real + freq_cis_imag
  }
  if (!c.tiedClassifier)
    cur.take(*store, param::classifier(), {c.vocabSize, D});
  if (llvm::Error err = checkFiniteParameters(*store))
    return makeError(path + ": " + llvm::toString(std::move(err)));
  model.params = std::move(store);
  return model;
}

} // namespace qopt
