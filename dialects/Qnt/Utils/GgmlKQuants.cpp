//===- GgmlKQuants.cpp - decoding ggml's K-quant super-blocks -------------===//
#include "Qnt/Utils/GgmlKQuants.h"

#include "qopt/Support/DType.h"

#include <cstring>

namespace qopt::ggml {

using gguf::GgmlType;

namespace {

float half(const uint8_t *p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return halfToFloat(h);
}

/// Scale and min `j` (0..7) of Q4_K / Q5_K's 12 bytes: the first four are
/// the low 6 bits of bytes j and j + 4; the rest take their low 4 bits from
/// byte j + 4 and their top 2 from the spare bits of bytes j - 4 and j.
void scaleMin(int j, const uint8_t *q, int &scale, int &min) {
  if (j < 4) {
    scale = q[j] & 63;
    min = q[j + 4] & 63;
  } else {
    scale = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

void q2k(const uint8_t *b, float *y) {
  const uint8_t *scales = b, *q = b + 16;
  const float d = half(b + 80), dmin = half(b + 82);
  int is = 0;
  for (int n = 0; n < 256; n += 128, q += 32)
    for (int shift = 0; shift < 8; shift += 2)
      for (int half16 = 0; half16 < 2; ++half16) {
        uint8_t sc = scales[is++];
        const float dl = d * float(sc & 0xF), ml = dmin * float(sc >> 4);
        for (int l = 0; l < 16; ++l)
          *y++ = dl * float((q[l + 16 * half16] >> shift) & 3) - ml;
      }
}

void q3k(const uint8_t *b, float *y) {
  const uint8_t *hmask = b, *q = b + 32, *packed = b + 96;
  const float d = half(b + 108);
  // 16 six-bit scales: the low 4 bits are the nibbles of bytes 0-7 (low
  // nibbles for scales 0-7, high for 8-15), the top 2 bits come from bytes
  // 8-11, two bits per scale.
  int scales[16];
  for (int i = 0; i < 16; ++i) {
    int low = (packed[i % 8] >> (4 * (i / 8))) & 0xF;
    int high = (packed[8 + i % 4] >> (2 * (i / 4))) & 3;
    scales[i] = (low | (high << 4)) - 32;
  }
  int is = 0;
  uint8_t m = 1;
  for (int n = 0; n < 256; n += 128, q += 32)
    for (int shift = 0; shift < 8; shift += 2, m <<= 1)
      for (int half16 = 0; half16 < 2; ++half16) {
        const float dl = d * float(scales[is++]);
        for (int l = 0; l < 16; ++l) {
          int i = l + 16 * half16;
          int v = ((q[i] >> shift) & 3) - ((hmask[i] & m) ? 0 : 4);
          *y++ = dl * float(v);
        }
      }
}

void q4k(const uint8_t *b, float *y, bool fifthBit) {
  const float d = half(b), dmin = half(b + 2);
  const uint8_t *scales = b + 4, *qh = b + 16;
  const uint8_t *q = fifthBit ? b + 48 : b + 16;
  uint8_t u1 = 1, u2 = 2;
  for (int j = 0, is = 0; j < 256; j += 64, is += 2, q += 32, u1 <<= 2, u2 <<= 2) {
    int sc, mn;
    scaleMin(is, scales, sc, mn);
    const float d1 = d * float(sc), m1 = dmin * float(mn);
    scaleMin(is + 1, scales, sc, mn);
    const float d2 = d * float(sc), m2 = dmin * float(mn);
    for (int l = 0; l < 32; ++l)
      *y++ = d1 * float((q[l] & 0xF) + (fifthBit && (qh[l] & u1) ? 16 : 0)) - m1;
    for (int l = 0; l < 32; ++l)
      *y++ = d2 * float((q[l] >> 4) + (fifthBit && (qh[l] & u2) ? 16 : 0)) - m2;
  }
}

void q6k(const uint8_t *b, float *y) {
  const uint8_t *ql = b, *qh = b + 128;
  const int8_t *sc = reinterpret_cast<const int8_t *>(b + 192);
  const float d = half(b + 208);
  for (int n = 0; n < 256; n += 128, y += 128, ql += 64, qh += 32, sc += 8)
    for (int l = 0; l < 32; ++l) {
      int is = l / 16;
      int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
      int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
      int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l] = d * float(sc[is]) * float(q1);
      y[l + 32] = d * float(sc[is + 2]) * float(q2);
      y[l + 64] = d * float(sc[is + 4]) * float(q3);
      y[l + 96] = d * float(sc[is + 6]) * float(q4);
    }
}

} // namespace

bool isKQuant(GgmlType type) {
  return type == GgmlType::Q2_K || type == GgmlType::Q3_K || type == GgmlType::Q4_K ||
         type == GgmlType::Q5_K || type == GgmlType::Q6_K;
}

std::vector<float> dequantizeKQuant(GgmlType type, const uint8_t *data, int64_t n) {
  const int64_t bytes = gguf::typeTraits(uint32_t(type))->blockBytes;
  std::vector<float> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n / kSuperBlock; ++i) {
    const uint8_t *b = data + i * bytes;
    float *y = out.data() + i * kSuperBlock;
    switch (type) {
    case GgmlType::Q2_K: q2k(b, y); break;
    case GgmlType::Q3_K: q3k(b, y); break;
    case GgmlType::Q4_K: q4k(b, y, false); break;
    case GgmlType::Q5_K: q4k(b, y, true); break;
    case GgmlType::Q6_K: q6k(b, y); break;
    default: break;
    }
  }
  return out;
}

} // namespace qopt::ggml
