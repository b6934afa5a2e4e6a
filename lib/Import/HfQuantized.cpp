//===- HfQuantized.cpp - GPTQ / AWQ packed linears of a HF checkpoint -----===//
//
// Packings read (N output channels, K input channels, b bits, G groups):
//  - GPTQ (AutoGPTQ / GPTQModel): qweight int32 [K*b/32, N], code (k, n) in
//    bits b*(k%per) of word (k/per, n); qzeros int32 [G, N*b/32] packed the
//    same way along N, holding z - 1 in the v1 checkpoint format and z in
//    gptq_v2; scales f16 [G, N]; g_idx int32 [K], the group of each input
//    channel (act-order checkpoints permute it). w = (q - z) * s.
//  - AWQ GEMM (AutoAWQ): qweight int32 [K, N/8] and qzeros int32 [G, N/8],
//    both packed along N in the interleaved order [0 2 4 6 1 3 5 7] (nibble
//    i of word j holds column 8j + order[i]); zeros as they are; scales f16
//    [G, N]; groups contiguous. w = (q - z) * s.
//
//===----------------------------------------------------------------------===//
#include "qopt/Import/HfQuantized.h"

#include "Qnt/Utils/QuantScheme.h"
#include "qopt/Import/ConfigFields.h"
#include "qopt/Support/DType.h"
#include "qopt/Support/Error.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <cmath>
#include <cstring>

using nlohmann::json;

namespace qopt {

std::string HfQuantConfig::describe() const {
  std::string s = method == Method::Awq ? "awq" : "gptq";
  s += " " + std::to_string(bits) + "-bit ";
  s += groupSize ? "g" + std::to_string(groupSize) : std::string("per-channel");
  return s;
}

namespace {

llvm::Error parseGptq(const ConfigFields &f, HfQuantConfig &q) {
  if (q.bits == 3)
    return f.fail("3-bit GPTQ packs codes across 32-bit words, which qopt does not read "
                  "(2, 4 and 8 bits it does)");
  if (q.bits != 2 && q.bits != 4 && q.bits != 8)
    return f.fail("bits " + llvm::Twine(q.bits) + " is not a GPTQ width qopt reads (2, 4, 8)");
  // desc_act and sym are checked for type only: g_idx and the zero points
  // themselves say what each linear is.
  for (const char *flag : {"desc_act", "sym"})
    if (auto v = f.optionalBool(flag, false); !v)
      return v.takeError();
  auto format = f.optionalString("checkpoint_format", "");
  if (!format)
    return format.takeError();
  if (format->empty()) { // GPTQModel's name for it
    format = f.optionalString("format", "gptq");
    if (!format)
      return format.takeError();
  }
  std::string name = llvm::StringRef(*format).lower();
  if (name != "gptq" && name != "gptq_v2")
    return f.fail("checkpoint_format '" + *format +
                  "' is not supported (gptq and gptq_v2 are)");
  q.zerosMinusOne = name == "gptq";
  return llvm::Error::success();
}

llvm::Error parseAwq(const ConfigFields &f, HfQuantConfig &q) {
  auto version = f.optionalString("version", "gemm");
  if (!version)
    return version.takeError();
  if (llvm::StringRef(*version).lower() != "gemm")
    return f.fail("AWQ version '" + *version + "' is not supported (gemm is)");
  if (q.bits != 4)
    return f.fail("bits " + llvm::Twine(q.bits) + ": AWQ's GEMM packing holds 4-bit codes");
  auto zeroPoint = f.optionalBool("zero_point", true);
  if (!zeroPoint)
    return zeroPoint.takeError();
  if (!*zeroPoint)
    return f.fail("zero_point false (AWQ without zero points) is not supported");
  return llvm::Error::success();
}

/// Reads int32 element `i` of a view whose bytes may be unaligned (mmapped).
inline uint32_t word(const TensorView &v, int64_t i) {
  uint32_t w;
  std::memcpy(&w, v.data + i * 4, 4);
  return w;
}

/// A linear's packed tensors, unpacked: codes [N, K], zeros and scales
/// [G, N], and the group of each input channel.
struct Unpacked {
  int64_t rows = 0, cols = 0, groups = 0, width = 0;
  std::vector<uint8_t> codes;
  std::vector<int32_t> zeros;
  std::vector<float> scales;
  std::vector<int32_t> groupOf;
};

constexpr int kAwqOrder[8] = {0, 2, 4, 6, 1, 3, 5, 7};

class LinearUnpacker {
public:
  LinearUnpacker(const HfQuantConfig &c, const std::string &base,
                 const std::map<std::string, TensorView> &parts)
      : c(c), base(base), parts(parts) {}

  llvm::Expected<Unpacked> run(int64_t N, int64_t K) {
    const bool awq = c.method == HfQuantConfig::Method::Awq;
    const int64_t b = c.bits, per = 32 / b;
    Unpacked u;
    u.rows = N;
    u.cols = K;
    u.width = c.groupSize ? c.groupSize : K;
    u.groups = (K + u.width - 1) / u.width;
    if (N % per)
      return fail(llvm::Twine(N) + " output channels do not pack into 32-bit words of " +
                  llvm::Twine(b) + "-bit codes");
    if (!awq && K % per)
      return fail(llvm::Twine(K) + " input channels do not pack into 32-bit words of " +
                  llvm::Twine(b) + "-bit codes");
    if (awq && K % u.width)
      return fail(llvm::Twine(K) + " input channels are not whole groups of " +
                  llvm::Twine(u.width) + " (AWQ's GEMM packing needs them to be)");
    auto qweight = part("qweight", DType::I32,
                        awq ? std::vector<int64_t>{K, N / per} : std::vector<int64_t>{K / per, N});
    auto qzeros = part("qzeros", DType::I32, {u.groups, N / per});
    auto scales = part("scales", DType::F16, {u.groups, N});
    for (auto *e : {&qweight, &qzeros, &scales})
      if (!*e)
        return e->takeError();
    const uint32_t mask = uint32_t((1u << b) - 1);
    u.codes.resize(size_t(N * K));
    for (int64_t k = 0; k < K; ++k)
      for (int64_t n = 0; n < N; ++n) {
        uint32_t w = awq ? word(**qweight, k * (N / per) + n / per)
                         : word(**qweight, (k / per) * N + n);
        int shift = awq ? 4 * awqSlot(n % 8) : int(b * (k % per));
        u.codes[size_t(n * K + k)] = uint8_t((w >> shift) & mask);
      }
    u.zeros.resize(size_t(u.groups * N));
    u.scales.resize(size_t(u.groups * N));
    for (int64_t g = 0; g < u.groups; ++g)
      for (int64_t n = 0; n < N; ++n) {
        uint32_t w = word(**qzeros, g * (N / per) + n / per);
        int shift = awq ? 4 * awqSlot(n % 8) : int(b * (n % per));
        u.zeros[size_t(g * N + n)] = int32_t((w >> shift) & mask) + (c.zerosMinusOne ? 1 : 0);
        uint16_t h;
        std::memcpy(&h, (*scales)->data + (g * N + n) * 2, 2);
        float s = halfToFloat(h);
        if (!std::isfinite(s))
          return fail("scales hold NaN or Inf (group " + llvm::Twine(g) + ", output channel " +
                      llvm::Twine(n) + ")");
        u.scales[size_t(g * N + n)] = s;
      }
    if (auto err = readGroups(u, awq))
      return std::move(err);
    return u;
  }

private:
  /// The nibble of an AWQ word that holds column `c` (0..7) of its eight.
  static int awqSlot(int64_t column) {
    for (int i = 0; i < 8; ++i)
      if (kAwqOrder[i] == column)
        return i;
    return 0;
  }

  llvm::Error fail(const llvm::Twine &what) const {
    return makeError("quantized linear '" + base + "': " + what);
  }

  llvm::Expected<const TensorView *> part(const char *leaf, DType dtype,
                                          std::vector<int64_t> shape) const {
    std::string name = base + "." + leaf;
    auto it = parts.find(leaf);
    if (it == parts.end())
      return makeError("tensor '" + name + "' is missing from the checkpoint (" +
                       c.describe() + " linears need qweight, qzeros and scales)");
    const TensorView &v = it->second;
    if (v.dtype != dtype)
      return makeError("tensor '" + name + "' has dtype " + dtypeName(v.dtype) + "; " +
                       c.describe() + " stores it as " + dtypeName(dtype));
    if (v.shape != shape) {
      TensorView want;
      want.shape = shape;
      return makeError("tensor '" + name + "' has shape " + v.shapeString() + " but " +
                       c.describe() + " packing of this linear implies " + want.shapeString());
    }
    return &v;
  }

  /// g_idx (GPTQ; contiguous when absent, and always for AWQ): every entry
  /// names a group, and every group holds exactly its width of channels.
  llvm::Error readGroups(Unpacked &u, bool awq) const {
    const int64_t K = u.cols;
    u.groupOf.resize(size_t(K));
    auto it = parts.find("g_idx");
    if (awq && it != parts.end())
      return makeError("tensor '" + base + ".g_idx': AWQ checkpoints carry no g_idx");
    if (it == parts.end()) {
      for (int64_t k = 0; k < K; ++k)
        u.groupOf[size_t(k)] = int32_t(k / u.width);
      return llvm::Error::success();
    }
    auto gIdx = part("g_idx", DType::I32, {K});
    if (!gIdx)
      return gIdx.takeError();
    std::vector<int64_t> members(size_t(u.groups), 0);
    for (int64_t k = 0; k < K; ++k) {
      int32_t g = int32_t(word(**gIdx, k));
      if (g < 0 || g >= u.groups)
        return fail("g_idx is not a permutation of its groups: g_idx[" + llvm::Twine(k) +
                    "] = " + llvm::Twine(g) + ", outside [0, " + llvm::Twine(u.groups) + ")");
      u.groupOf[size_t(k)] = g;
      ++members[size_t(g)];
    }
    for (int64_t g = 0; g < u.groups; ++g) {
      int64_t want = std::min(u.width, K - g * u.width);
      if (members[size_t(g)] != want)
        return fail("g_idx is not a permutation of its groups: group " + llvm::Twine(g) +
                    " has " + llvm::Twine(members[size_t(g)]) + " input channels, not " +
                    llvm::Twine(want));
    }
    return llvm::Error::success();
  }

  const HfQuantConfig &c;
  const std::string &base;
  const std::map<std::string, TensorView> &parts;
};

/// Why qnt cannot hold `u` exactly ("" when it can).
std::string inexactReason(const Unpacked &u, int64_t bits, bool isEmbedding) {
  if (isEmbedding)
    return "the graph gathers the embedding table in float";
  if (u.cols % u.width)
    return "a ragged last group";
  for (int64_t k = 0; k < u.cols; ++k)
    if (u.groupOf[size_t(k)] != k / u.width)
      return "act-order g_idx";
  for (int32_t z : u.zeros)
    if (z > (1 << bits) - 1)
      return "GPTQ v1 zero points of 2^bits";
  return "";
}

qmath::QuantizedWeight toQuantized(const Unpacked &u, int64_t bits, int64_t groupSize) {
  qmath::Scheme s;
  s.bits = bits;
  s.groupSize = groupSize;
  s.symmetric = true;
  for (int32_t z : u.zeros)
    s.symmetric &= z == (1 << (bits - 1)); // qnt's symmetric zero point
  qmath::QuantizedWeight q(s, u.rows, u.cols);
  q.codes = u.codes;
  const int64_t G = u.groups, N = u.rows;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t g = 0; g < G; ++g) {
      qmath::GroupParams &p = q.params[size_t(n * G + g)];
      p.scale = u.scales[size_t(g * N + n)];
      p.zero = float(u.zeros[size_t(g * N + n)]);
      // A zero scale is stored as such but read back as 1 (see
      // loadQuantized): codes at the zero point keep the group at zero.
      if (p.scale == 0)
        for (int64_t k = g * u.width; k < (g + 1) * u.width; ++k)
          q.codes[size_t(n * u.cols + k)] = uint8_t(p.zero);
    }
  return q;
}

std::vector<float> dequantize(const Unpacked &u) {
  const int64_t N = u.rows, K = u.cols;
  std::vector<float> w(size_t(N * K));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k) {
      size_t gi = size_t(u.groupOf[size_t(k)] * N + n);
      w[size_t(n * K + k)] = float(int32_t(u.codes[size_t(n * K + k)]) - u.zeros[gi]) * u.scales[gi];
    }
  return w;
}

} // namespace

llvm::Expected<HfQuantConfig> parseHfQuantConfig(const json &config,
                                                 llvm::StringRef configPath) {
  HfQuantConfig q;
  json fromFile;
  const json *qc = nullptr;
  std::string where;
  bool legacyFile = false;
  if (config.contains("quantization_config") && !config.at("quantization_config").is_null()) {
    qc = &config.at("quantization_config");
    where = (configPath + ": quantization_config").str();
  } else {
    llvm::SmallString<256> legacy(configPath);
    llvm::sys::path::remove_filename(legacy);
    llvm::sys::path::append(legacy, "quantize_config.json");
    if (!llvm::sys::fs::exists(legacy))
      return q;
    auto read = readJsonObject(legacy);
    if (!read)
      return read.takeError();
    fromFile = std::move(*read);
    qc = &fromFile;
    where = std::string(legacy);
    legacyFile = true;
  }
  if (!qc->is_object())
    return makeError(where + " must be an object, not " + qc->type_name());
  ConfigFields f(*qc, where);
  // AutoGPTQ's quantize_config.json predates quant_method.
  auto method = legacyFile ? f.optionalString("quant_method", "gptq")
                           : f.optionalString("quant_method", "");
  if (!method)
    return method.takeError();
  std::string name = llvm::StringRef(*method).lower();
  if (name != "gptq" && name != "awq")
    return f.fail("quant_method '" + *method + "' is not supported (gptq and awq are)");
  q.method = name == "awq" ? HfQuantConfig::Method::Awq : HfQuantConfig::Method::Gptq;
  auto bits = f.requireInt("bits");
  if (!bits)
    return bits.takeError();
  q.bits = *bits;
  auto group = f.optionalInt("group_size", -1);
  if (!group)
    return group.takeError();
  if (*group != -1 && *group <= 0)
    return f.fail("group_size must be -1 (per channel) or positive, got " + llvm::Twine(*group));
  q.groupSize = *group == -1 ? 0 : *group;
  if (auto err = q.method == HfQuantConfig::Method::Awq ? parseAwq(f, q) : parseGptq(f, q))
    return std::move(err);
  return q;
}

llvm::Expected<bool> HfPackedLinears::take(llvm::StringRef shard, const std::string &name,
                                           TensorView view) {
  auto [base, leaf] = llvm::StringRef(name).rsplit('.');
  if (leaf != "qweight" && leaf != "qzeros" && leaf != "scales" && leaf != "g_idx")
    return false;
  // Only a matrix is packed: a norm's "model.norm.qweight" is no packed
  // tensor of anything, and the caller refuses it as unexpected.
  auto known = names.find((base + ".weight").str());
  if (known == names.end() || known->second.shape.size() != 2)
    return false;
  if (config.method == HfQuantConfig::Method::None)
    return makeError(shard + ": tensor '" + name +
                     "' is a packed quantized weight, but config.json has no "
                     "quantization_config");
  TensorView &slot = linears[base.str()].parts[leaf.str()];
  if (slot.data)
    return makeError(shard + ": tensor '" + name + "' appears twice in the checkpoint");
  slot = std::move(view);
  return true;
}

llvm::Error HfPackedLinears::unpackInto(ImportedModel &model,
                                        std::map<std::string, HfTensor> &missing) {
  std::map<std::string, int64_t> inexact; // reason -> linears
  for (const auto &[base, packed] : linears) {
    auto it = missing.find(base + ".weight");
    if (it == missing.end())
      return makeError("linear '" + base + "' is stored both as " + base +
                       ".weight and as packed tensors");
    const HfTensor &t = it->second;
    auto u = LinearUnpacker(config, base, packed.parts).run(t.shape[0], t.shape[1]);
    if (!u)
      return u.takeError();
    std::string why = inexactReason(*u, config.bits, t.canonical == param::tokEmbeddings());
    if (why.empty()) {
      qmath::QuantizedWeight q = toQuantized(*u, config.bits, config.groupSize);
      qmath::storeQuantized(*model.params, t.canonical, q);
      model.quantized[t.canonical] = {q.scheme.bits, q.scheme.groupSize, q.scheme.symmetric};
    } else {
      ++inexact[why];
      model.params->set(t.canonical, TensorView::fromFloats(t.shape, dequantize(*u)));
    }
    missing.erase(it);
  }
  for (const auto &[why, count] : inexact)
    model.notes.push_back(std::to_string(count) + " " + config.describe() +
                          " linear(s) dequantized to their exact f32 values (" + why +
                          ", which no qnt scheme holds)");
  return llvm::Error::success();
}

} // namespace qopt
