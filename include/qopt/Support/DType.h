//===- DType.h - element types of stored tensors ----------------*- C++ -*-===//
#ifndef QOPT_SUPPORT_DTYPE_H
#define QOPT_SUPPORT_DTYPE_H

#include "llvm/ADT/StringRef.h"
#include <cstddef>
#include <cstdint>
#include <optional>

namespace qopt {

/// Element types a parameter file may hold (safetensors spelling).
enum class DType { F32, F16, BF16, I32, I8, U8 };

size_t dtypeSize(DType t);
llvm::StringRef dtypeName(DType t);
std::optional<DType> parseDType(llvm::StringRef name);

/// IEEE half and bfloat16 to float, bit-exact (round trips through float).
float halfToFloat(uint16_t h);
float bfloat16ToFloat(uint16_t b);
/// Round-to-nearest-even conversions from float.
uint16_t floatToHalf(float f);
uint16_t floatToBFloat16(float f);

} // namespace qopt

#endif
