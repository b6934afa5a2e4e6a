//===- TensorView.cpp ------------------------------------------------------===//
#include "qopt/Support/TensorView.h"

#include <cstring>

namespace qopt {

std::string TensorView::shapeString() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

TensorView TensorView::fromFloats(std::vector<int64_t> shape,
                                  std::vector<float> values) {
  auto buffer = std::make_shared<std::vector<float>>(std::move(values));
  TensorView view;
  view.dtype = DType::F32;
  view.shape = std::move(shape);
  view.data = reinterpret_cast<const uint8_t *>(buffer->data());
  view.nbytes = buffer->size() * sizeof(float);
  view.owner = buffer;
  return view;
}

std::vector<float> TensorView::toFloats() const {
  std::vector<float> out(numel());
  switch (dtype) {
  case DType::F32:
    std::memcpy(out.data(), data, out.size() * 4);
    break;
  case DType::F16:
  case DType::BF16: {
    for (size_t i = 0; i < out.size(); ++i) {
      uint16_t bits;
      std::memcpy(&bits, data + 2 * i, 2);
      out[i] = dtype == DType::F16 ? halfToFloat(bits) : bfloat16ToFloat(bits);
    }
    break;
  }
  case DType::I32:
  case DType::I8:
  case DType::U8:
    for (size_t i = 0; i < out.size(); ++i) {
      if (dtype == DType::I32) {
        int32_t v;
        std::memcpy(&v, data + 4 * i, 4);
        out[i] = float(v);
      } else {
        out[i] = dtype == DType::I8 ? float(int8_t(data[i])) : float(data[i]);
      }
    }
    break;
  }
  return out;
}

} // namespace qopt
