//===- GgmlKQuants.h - decoding ggml's K-quant super-blocks -----*- C++ -*-===//
//
// ggml's K-quants (ggml-common.h, dequantize_row_q*_K in ggml-quants.c) pack
// 256 weights per super-block in sub-blocks of 16 or 32 with quantized
// scales (and minima) under an f16 super-block scale:
//   Q2_K  u8 scales[16] (4-bit scale | 4-bit min << 4); u8 qs[64]; f16 d, dmin
//         x = d * sc * q - dmin * m, q 2 bits, sub-blocks of 16
//   Q3_K  u8 hmask[32]; u8 qs[64]; u8 scales[12] (16 x 6 bits); f16 d
//         x = d * (sc - 32) * (q - 4 * !high), q 2 bits + high bit
//   Q4_K  f16 d, dmin; u8 scales[12] (8 x 6-bit scale, 8 x 6-bit min); u8 qs[128]
//         x = d * sc * q - dmin * m, q 4 bits, sub-blocks of 32
//   Q5_K  as Q4_K, then u8 qh[32] holding each weight's fifth bit, before qs
//   Q6_K  u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d
//         x = d * sc * (q - 32), q 4 + 2 bits, sub-blocks of 16
// Their per-sub-block scales are products d * sc that qnt's f16 group scales
// do not generally hold, so qopt reads them as the f32 values they decode to.
//
//===----------------------------------------------------------------------===//
#ifndef QNT_UTILS_GGMLKQUANTS_H
#define QNT_UTILS_GGMLKQUANTS_H

#include "qopt/Support/Gguf.h"

#include <cstdint>
#include <vector>

namespace qopt::ggml {

constexpr int64_t kSuperBlock = 256;

bool isKQuant(gguf::GgmlType type);

/// Decodes `n` (a multiple of 256) values of Q2_K .. Q6_K, in ggml's order
/// of float operations, so the values equal dequantize_row_q*_K's.
std::vector<float> dequantizeKQuant(gguf::GgmlType type, const uint8_t *data, int64_t n);

} // namespace qopt::ggml

#endif
