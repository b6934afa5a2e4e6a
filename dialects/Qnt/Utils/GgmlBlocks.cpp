//===- GgmlBlocks.cpp - qopt's quantized weights as ggml blocks -----------===//
#include "Qnt/Utils/GgmlBlocks.h"
#include "Qnt/Utils/GgmlKQuants.h"

#include "qopt/Support/DType.h"

#include <cfloat>
#include <cmath>
#include <cstring>

namespace qopt::ggml {

using qmath::GroupLayout;
using qmath::GroupParams;
using qmath::QuantizedWeight;
using qmath::Scheme;

namespace {

/// Byte layout of a legacy block type.
struct BlockLayout {
  int bits;       // 4, 5 or 8
  bool hasMin;    // Q4_1 / Q5_1
  int64_t bytes;  // per block
  int64_t offset; // the signed types' q - offset
};

std::optional<BlockLayout> blockLayout(GgmlType t) {
  switch (t) {
  case GgmlType::Q4_0: return BlockLayout{4, false, 18, 8};
  case GgmlType::Q4_1: return BlockLayout{4, true, 20, 0};
  case GgmlType::Q5_0: return BlockLayout{5, false, 22, 16};
  case GgmlType::Q5_1: return BlockLayout{5, true, 24, 0};
  case GgmlType::Q8_0: return BlockLayout{8, false, 34, 0};
  default: return std::nullopt;
  }
}

void putHalf(uint8_t *p, float v) {
  uint16_t h = floatToHalf(v);
  std::memcpy(p, &h, 2);
}
float getHalf(const uint8_t *p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return halfToFloat(h);
}

/// Writes one block from its 32 unsigned codes (Q8_0: the int8 values as
/// bytes) with scale d and, for the min types, m.
void packBlock(const BlockLayout &l, uint8_t *out, const uint8_t *q, float d, float m) {
  putHalf(out, d);
  uint8_t *p = out + 2;
  if (l.hasMin) {
    putHalf(p, m);
    p += 2;
  }
  if (l.bits == 8) {
    std::memcpy(p, q, 32);
    return;
  }
  if (l.bits == 5) {
    uint32_t qh = 0;
    for (int j = 0; j < 32; ++j)
      qh |= uint32_t((q[j] >> 4) & 1) << j;
    std::memcpy(p, &qh, 4);
    p += 4;
  }
  for (int j = 0; j < 16; ++j)
    p[j] = uint8_t((q[j] & 0x0F) | ((q[j + 16] & 0x0F) << 4));
}

/// The 32 unsigned codes of a block (Q8_0: int8 values as bytes), its d and m.
void unpackBlock(const BlockLayout &l, const uint8_t *in, uint8_t *q, float &d, float &m) {
  d = getHalf(in);
  const uint8_t *p = in + 2;
  m = 0;
  if (l.hasMin) {
    m = getHalf(p);
    p += 2;
  }
  if (l.bits == 8) {
    std::memcpy(q, p, 32);
    return;
  }
  uint32_t qh = 0;
  if (l.bits == 5) {
    std::memcpy(&qh, p, 4);
    p += 4;
  }
  for (int j = 0; j < 16; ++j) {
    q[j] = p[j] & 0x0F;
    q[j + 16] = p[j] >> 4;
  }
  if (l.bits == 5)
    for (int j = 0; j < 32; ++j)
      q[j] |= uint8_t(((qh >> j) & 1) << 4);
}

float blockValue(const BlockLayout &l, uint8_t q, float d, float m) {
  if (l.bits == 8)
    return float(int8_t(q)) * d;
  if (l.hasMin)
    return float(q) * d + m;
  return float(int(q) - int(l.offset)) * d;
}

} // namespace

TypeChoice exactTypeFor(const QuantizedWeight &q) {
  const Scheme &s = q.scheme;
  TypeChoice c;
  if (s.format != qnt::WeightFormat::Int) {
    c.whyNot = s.describe() + " has no ggml block type";
    return c;
  }
  if (!q.outlierIndex.empty()) {
    c.whyNot = "LLM.int8 outlier channels have no ggml block type";
    return c;
  }
  GgmlType type;
  if (s.bits == 4)
    type = s.symmetric ? GgmlType::Q4_0 : GgmlType::Q4_1;
  else if (s.bits == 5)
    type = s.symmetric ? GgmlType::Q5_0 : GgmlType::Q5_1;
  else if (s.bits == 8 && s.symmetric)
    type = GgmlType::Q8_0;
  else {
    c.whyNot = s.describe() + " has no ggml block type";
    return c;
  }
  GroupLayout g = q.layout();
  if (q.cols % kBlock) {
    c.whyNot = "rows of " + std::to_string(q.cols) + " are not whole blocks of 32";
    return c;
  }
  if (!g.perTensor && g.width % kBlock) {
    c.whyNot = "groups of " + std::to_string(g.width) + " do not split into blocks of 32";
    return c;
  }
  if (!s.symmetric)
    for (const GroupParams &p : q.params) {
      float m = -p.zero * p.scale;
      if (!std::isfinite(m) || qmath::roundToHalf(m) != m) {
        c.whyNot = "a zero point times its scale (" + std::to_string(m) +
                   ") is not an f16 value, which " + gguf::typeName(uint32_t(type)) +
                   "'s m must be";
        if (std::isfinite(m))
          c.sameCodes = type;
        return c;
      }
    }
  c.exact = type;
  return c;
}

GgmlType nearestTypeFor(const QuantizedWeight &q) {
  const Scheme &s = q.scheme;
  if (q.cols % kBlock)
    return GgmlType::F32;
  if (s.format != qnt::WeightFormat::Int || s.bits <= 4)
    return s.format == qnt::WeightFormat::Int && !s.symmetric ? GgmlType::Q4_1 : GgmlType::Q4_0;
  if (s.bits == 5)
    return s.symmetric ? GgmlType::Q5_0 : GgmlType::Q5_1;
  return GgmlType::Q8_0;
}

std::vector<uint8_t> encodeExact(const QuantizedWeight &q, GgmlType type) {
  BlockLayout l = *blockLayout(type);
  GroupLayout g = q.layout();
  int64_t blocksPerRow = q.cols / kBlock;
  std::vector<uint8_t> out(size_t(q.rows * blocksPerRow * l.bytes));
  uint8_t codes[32];
  for (int64_t r = 0; r < q.rows; ++r)
    for (int64_t b = 0; b < blocksPerRow; ++b) {
      const GroupParams &p = q.params[size_t(g.index(r, b * kBlock))];
      const uint8_t *src = &q.codes[size_t(r * q.cols + b * kBlock)];
      for (int j = 0; j < 32; ++j)
        codes[j] = l.bits == 8 ? uint8_t(int8_t(int(src[j]) - 128)) : src[j];
      packBlock(l, &out[size_t((r * blocksPerRow + b) * l.bytes)], codes, p.scale,
                -p.zero * p.scale);
    }
  return out;
}

std::vector<uint8_t> quantizeReference(GgmlType type, const float *x, int64_t n) {
  if (type == GgmlType::F32) {
    std::vector<uint8_t> out(size_t(n) * 4);
    std::memcpy(out.data(), x, out.size());
    return out;
  }
  if (type == GgmlType::F16 || type == GgmlType::BF16) {
    std::vector<uint8_t> out(size_t(n) * 2);
    for (int64_t i = 0; i < n; ++i) {
      uint16_t h = type == GgmlType::F16 ? floatToHalf(x[i]) : floatToBFloat16(x[i]);
      std::memcpy(&out[size_t(i) * 2], &h, 2);
    }
    return out;
  }
  BlockLayout l = *blockLayout(type);
  int64_t blocks = n / kBlock;
  std::vector<uint8_t> out(size_t(blocks * l.bytes));
  uint8_t q[32];
  for (int64_t b = 0; b < blocks; ++b) {
    const float *v = x + b * kBlock;
    float d, m = 0;
    if (l.hasMin) {
      // quantize_row_q4_1_ref / q5_1_ref: the range [min, max] in 2^bits - 1 steps.
      float lo = FLT_MAX, hi = -FLT_MAX;
      for (int j = 0; j < 32; ++j) {
        lo = std::min(lo, v[j]);
        hi = std::max(hi, v[j]);
      }
      int levels = (1 << l.bits) - 1;
      d = (hi - lo) / float(levels);
      float id = d != 0 ? 1.0f / d : 0.0f;
      m = lo;
      for (int j = 0; j < 32; ++j)
        q[j] = uint8_t(std::min(levels, int((v[j] - lo) * id + 0.5f)));
    } else if (l.bits == 8) {
      // quantize_row_q8_0_ref: absmax / 127, rounded half away from zero.
      float amax = 0;
      for (int j = 0; j < 32; ++j)
        amax = std::max(amax, std::fabs(v[j]));
      d = amax / 127.0f;
      float id = d != 0 ? 1.0f / d : 0.0f;
      for (int j = 0; j < 32; ++j)
        q[j] = uint8_t(int8_t(std::round(v[j] * id)));
    } else {
      // quantize_row_q4_0_ref / q5_0_ref: the value of largest magnitude to
      // the most negative code.
      float amax = 0, signedMax = 0;
      for (int j = 0; j < 32; ++j)
        if (amax < std::fabs(v[j])) {
          amax = std::fabs(v[j]);
          signedMax = v[j];
        }
      d = signedMax / -float(l.offset);
      float id = d != 0 ? 1.0f / d : 0.0f;
      int top = (1 << l.bits) - 1;
      for (int j = 0; j < 32; ++j)
        q[j] = uint8_t(std::min(top, int(int8_t(v[j] * id + (float(l.offset) + 0.5f)))));
    }
    packBlock(l, &out[size_t(b * l.bytes)], q, d, m);
  }
  return out;
}

bool canDequantize(uint32_t type) {
  GgmlType t = GgmlType(type);
  return t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16 ||
         blockLayout(t).has_value() || isKQuant(t);
}

std::vector<float> dequantize(GgmlType type, const uint8_t *data, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  if (type == GgmlType::F32) {
    std::memcpy(out.data(), data, size_t(n) * 4);
    return out;
  }
  if (type == GgmlType::F16 || type == GgmlType::BF16) {
    for (int64_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, data + 2 * i, 2);
      out[size_t(i)] = type == GgmlType::F16 ? halfToFloat(h) : bfloat16ToFloat(h);
    }
    return out;
  }
  if (isKQuant(type))
    return dequantizeKQuant(type, data, n);
  BlockLayout l = *blockLayout(type);
  uint8_t q[32];
  for (int64_t b = 0; b < n / kBlock; ++b) {
    float d, m;
    unpackBlock(l, data + b * l.bytes, q, d, m);
    for (int j = 0; j < 32; ++j)
      out[size_t(b * kBlock + j)] = blockValue(l, q[j], d, m);
  }
  return out;
}

std::optional<QuantizedWeight> toQuantized(GgmlType type, const uint8_t *data, int64_t rows,
                                           int64_t cols) {
  std::optional<BlockLayout> l = blockLayout(type);
  if (!l || cols % kBlock)
    return std::nullopt;
  Scheme s;
  s.bits = l->bits;
  s.groupSize = kBlock;
  s.symmetric = !l->hasMin;
  QuantizedWeight w(s, rows, cols);
  int64_t half = int64_t(1) << (l->bits - 1);
  uint8_t q[32];
  for (int64_t blk = 0; blk < rows * (cols / kBlock); ++blk) {
    float d, m;
    unpackBlock(*l, data + blk * l->bytes, q, d, m);
    GroupParams &p = w.params[size_t(blk)];
    p.scale = d;
    if (l->hasMin) {
      // m = -z * d for an integer code z, or no qopt scheme holds the block.
      float z = d != 0 ? std::nearbyint(-m / d) : 0.0f;
      if (z < 0 || z > float(s.maxCode()) || -z * d != m)
        return std::nullopt;
      p.zero = z;
    } else {
      p.zero = float(half);
    }
    uint8_t *codes = &w.codes[size_t(blk * kBlock)];
    for (int j = 0; j < 32; ++j)
      codes[j] = l->bits == 8 ? uint8_t(int(int8_t(q[j])) + 128) : q[j];
  }
  return w;
}

} // namespace qopt::ggml
