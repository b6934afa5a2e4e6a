//===- TensorView.h - a typed view of stored tensor bytes -------*- C++ -*-===//
#ifndef QOPT_SUPPORT_TENSORVIEW_H
#define QOPT_SUPPORT_TENSORVIEW_H

#include "qopt/Support/DType.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace qopt {

/// A dense row-major tensor whose bytes live elsewhere: in a memory-mapped
/// file or in a buffer that `owner` keeps alive.
struct TensorView {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const uint8_t *data = nullptr;
  size_t nbytes = 0;
  std::shared_ptr<const void> owner;

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    return n;
  }
  std::string shapeString() const;

  /// A view that owns a copy of `values`.
  static TensorView fromFloats(std::vector<int64_t> shape, std::vector<float> values);
  /// Converts any float dtype to f32 (copies unless already f32).
  std::vector<float> toFloats() const;
};

} // namespace qopt

#endif
