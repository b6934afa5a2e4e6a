//===- GgmlBlocks.h - qopt's quantized weights as ggml blocks ---*- C++ -*-===//
//
// ggml's legacy block types (ggml-common.h), 32 weights each:
//   Q4_0  f16 d;          u8 qs[16]          x = (q - 8) * d
//   Q4_1  f16 d, f16 m;   u8 qs[16]          x = q * d + m
//   Q5_0  f16 d; u8 qh[4]; u8 qs[16]         x = (q - 16) * d
//   Q5_1  f16 d, f16 m; u8 qh[4]; u8 qs[16]  x = q * d + m
//   Q8_0  f16 d;          i8 qs[32]          x = q * d
// qs packs element j in the low nibble of byte j and element j + 16 in its
// high nibble; bit j of the little-endian u32 qh is element j's fifth bit.
//
// qopt's int schemes are the same arithmetic: symmetric is
// (code - 2^(bits-1)) * scale with an f16 scale (Q4_0 / Q5_0 / Q8_0 with
// q = code, or code - 128 for Q8_0), asymmetric is (code - zero) * scale
// (Q4_1 / Q5_1 with m = -zero * scale, exact when that product is an f16
// value). A group of 64 or 128 is blocks of 32 that share its scale.
//
//===----------------------------------------------------------------------===//
#ifndef QNT_UTILS_GGMLBLOCKS_H
#define QNT_UTILS_GGMLBLOCKS_H

#include "Qnt/Utils/QuantScheme.h"
#include "qopt/Support/Gguf.h"

#include <optional>

namespace qopt::ggml {

using gguf::GgmlType;
constexpr int64_t kBlock = 32;

/// The block type that holds `q` bit for bit, or the reason none does
/// (one line: "int3 has no ggml block type", "rows of 172 are not whole
/// blocks of 32", ...).
struct TypeChoice {
  std::optional<GgmlType> exact;
  std::string whyNot;
  /// Asymmetric weights whose only misfit is m = -zero * scale not being an
  /// f16 value: this type keeps every code and scale, m rounded to f16
  /// (a far smaller change than re-quantizing the block).
  std::optional<GgmlType> sameCodes;
};
TypeChoice exactTypeFor(const qmath::QuantizedWeight &q);

/// The type `q` is re-rounded to when it has no exact one: the legacy type
/// of the same or the next wider bit width (Q4_0 for int2-4 symmetric and
/// NF4, Q4_1 for int2-4 asymmetric, Q5_x for int5, Q8_0 for int6-8); F32
/// (exact) when its rows are not whole blocks.
GgmlType nearestTypeFor(const qmath::QuantizedWeight &q);

/// The blocks of `q` in `type`, which exactTypeFor(q) must have returned
/// as exact or sameCodes.
std::vector<uint8_t> encodeExact(const qmath::QuantizedWeight &q, GgmlType type);

/// ggml's reference quantizers (quantize_row_*_ref) of `n` floats (a whole
/// number of blocks), for the types above; F32, F16 and BF16 convert.
std::vector<uint8_t> quantizeReference(GgmlType type, const float *x, int64_t n);

/// Decodes `n` values of `type` (F32, F16, BF16, the legacy block types and
/// the K-quants Q2_K .. Q6_K, GgmlKQuants.h).
std::vector<float> dequantize(GgmlType type, const uint8_t *data, int64_t n);
bool canDequantize(uint32_t type);

/// A [rows, cols] tensor of a legacy block type as a qopt quantized weight,
/// when one holds it exactly: Q4_0, Q5_0 and Q8_0 always (int4/int5/int8
/// g32 symmetric), Q4_1 and Q5_1 when every block's m is -z * d for an
/// integer z in the code range (what qopt's own export writes; llama.cpp's
/// quantizer puts the block minimum there, which generally is not).
std::optional<qmath::QuantizedWeight> toQuantized(GgmlType type, const uint8_t *data,
                                                  int64_t rows, int64_t cols);

} // namespace qopt::ggml

#endif
