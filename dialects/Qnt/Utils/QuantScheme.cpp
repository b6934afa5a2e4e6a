//===- QuantScheme.cpp - weight quantization math and storage ---------------===//
#include "Qnt/Utils/QuantScheme.h"

#include "qopt/Support/DType.h"
#include "qopt/Support/Error.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace qopt::qmath {

using qnt::WeightFormat;

float roundToHalf(float x) { return halfToFloat(floatToHalf(x)); }

Scheme Scheme::fromAttr(qnt::WeightQuantAttr attr) {
  Scheme s;
  s.format = attr.getFormat();
  s.bits = attr.getBits();
  s.groupSize = attr.getGroupSize();
  s.symmetric = attr.getSymmetric();
  s.doubleQuant = attr.getDoubleQuant();
  return s;
}

qnt::WeightQuantAttr Scheme::toAttr(mlir::MLIRContext *ctx, int64_t outliers) const {
  return qnt::WeightQuantAttr::get(ctx, format, bits, groupSize, symmetric, doubleQuant,
                                   outliers);
}

std::string Scheme::describe() const {
  std::string s = format == WeightFormat::NF4 ? "nf4" : "int" + std::to_string(bits);
  if (groupSize > 0)
    s += " g" + std::to_string(groupSize);
  else
    s += groupSize == 0 ? " per-channel" : " per-tensor";
  if (format == WeightFormat::Int)
    s += symmetric ? " sym" : " asym";
  if (doubleQuant)
    s += " dq";
  return s;
}

std::string Scheme::validate() const {
  if (format == WeightFormat::NF4 && bits != 4)
    return "nf4 is a 4-bit format, got bits=" + std::to_string(bits);
  if (format == WeightFormat::Int && (bits < 2 || bits > 8))
    return "weight bits must be between 2 and 8, got " + std::to_string(bits);
  if (groupSize < -1)
    return "group size must be positive, 0 (per channel) or -1 (per tensor), got " +
           std::to_string(groupSize);
  if (doubleQuant && format != WeightFormat::NF4)
    return "double quantization applies to nf4 only";
  if (format == WeightFormat::NF4 && groupSize == -1)
    return "nf4 needs per-group or per-channel absmax scales, not per-tensor";
  return "";
}

GroupLayout::GroupLayout(const Scheme &s, int64_t rows, int64_t cols)
    : rows(rows), cols(cols) {
  perTensor = s.groupSize == -1;
  width = s.groupSize > 0 ? std::min(s.groupSize, cols) : cols;
  perRow = perTensor ? 1 : std::max<int64_t>(1, cols / width);
}

llvm::ArrayRef<float> nf4Levels() {
  static const float levels[16] = {
      -1.0f,
      -0.6961928009986877f,
      -0.5250730514526367f,
      -0.39491748809814453f,
      -0.28444138169288635f,
      -0.18477343022823334f,
      -0.09105003625154495f,
      0.0f,
      0.07958029955625534f,
      0.16093020141124725f,
      0.24611230194568634f,
      0.33791524171829224f,
      0.44070982933044434f,
      0.5626170039176941f,
      0.7229568362236023f,
      1.0f};
  return levels;
}

namespace {

/// What chooseParams reads of a group: its range (with zero inside it) and
/// its value of largest magnitude.
struct GroupRange {
  float lo = 0, hi = 0, extreme = 0;
};

GroupRange rangeOf(const float *x, int64_t n, int64_t stride) {
  GroupRange r;
  for (int64_t i = 0; i < n; ++i) {
    float v = x[i * stride];
    r.lo = std::min(r.lo, v);
    r.hi = std::max(r.hi, v);
    if (std::fabs(v) > std::fabs(r.extreme))
      r.extreme = v;
  }
  return r;
}

GroupParams paramsFromRange(const Scheme &s, GroupRange r, float clip) {
  GroupParams p;
  if (s.format == WeightFormat::NF4) {
    float absmax = roundToHalf(std::fabs(r.extreme) * clip);
    p.scale = absmax > 0 ? absmax : 1.0f;
    return p;
  }
  if (s.symmetric) {
    int64_t half = int64_t(1) << (s.bits - 1);
    float d = roundToHalf(r.extreme * clip / -float(half));
    p.scale = d != 0 ? d : 1.0f;
    p.zero = float(half);
    return p;
  }
  float lo = r.lo * clip, hi = r.hi * clip;
  float scale = roundToHalf((hi - lo) / float(s.maxCode()));
  if (scale == 0) {
    p.scale = 1.0f;
    p.zero = 0;
    return p;
  }
  p.scale = scale;
  p.zero = std::clamp(std::nearbyint(-lo / scale), 0.0f, float(s.maxCode()));
  return p;
}

/// std::nearbyint in the default rounding mode (to nearest, ties to even)
/// without the library call the SSE2 baseline makes of it: adding and
/// taking away 1.5 * 2^23 rounds at the units place; exact for |v| < 2^22.
inline float roundNearestEven(float v) {
  if (!(std::fabs(v) < 4194304.0f))
    return std::nearbyint(v);
  constexpr float kMagic = 12582912.0f; // (v + m) - m is not folded without -ffast-math
  return (v + kMagic) - kMagic;
}

} // namespace

GroupParams chooseParams(const Scheme &s, const float *x, int64_t n, int64_t stride,
                         float clip) {
  return paramsFromRange(s, rangeOf(x, n, stride), clip);
}

int quantizeValue(const Scheme &s, const GroupParams &p, float x) {
  if (s.format == WeightFormat::NF4) {
    float v = x / p.scale;
    llvm::ArrayRef<float> levels = nf4Levels();
    // Nearest level; ties go to the lower code so the result is deterministic.
    int best = 0;
    float bestDist = std::fabs(v - levels[0]);
    for (int i = 1; i < 16; ++i) {
      float d = std::fabs(v - levels[i]);
      if (d < bestDist) {
        bestDist = d;
        best = i;
      }
    }
    return best;
  }
  float q = roundNearestEven(x / p.scale) + p.zero;
  return int(std::clamp(q, 0.0f, float(s.maxCode())));
}

float dequantizeValue(const Scheme &s, const GroupParams &p, int code) {
  if (s.format == WeightFormat::NF4)
    return nf4Levels()[code] * p.scale;
  return (float(code) - p.zero) * p.scale;
}

QuantizedWeight::QuantizedWeight(const Scheme &s, int64_t rows, int64_t cols)
    : scheme(s), rows(rows), cols(cols), codes(size_t(rows * cols), 0),
      params(size_t(GroupLayout(s, rows, cols).numScales())) {}

std::vector<float> QuantizedWeight::dequantize() const {
  GroupLayout g = layout();
  std::vector<float> w(size_t(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      w[r * cols + c] = dequantizeValue(scheme, params[g.index(r, c)], codes[r * cols + c]);
  int64_t k = int64_t(outlierIndex.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < k; ++j)
      w[r * cols + outlierIndex[j]] = outlierWeight[r * k + j];
  return w;
}

int64_t QuantizedWeight::storedBytes() const {
  GroupLayout g = layout();
  int64_t bytes = rows * packedRowBytes(cols, scheme.bits);
  int64_t scales = g.numScales();
  if (scheme.doubleQuant)
    bytes += scales + 4 * ((scales + kDoubleQuantBlock - 1) / kDoubleQuantBlock) + 4;
  else
    bytes += 2 * scales;
  if (scheme.format == WeightFormat::Int && !scheme.symmetric)
    bytes += g.perTensor ? 1 : rows * packedRowBytes(g.perRow, scheme.bits);
  bytes += int64_t(outlierIndex.size()) * (4 + 2 * rows);
  return bytes;
}

double QuantizedWeight::bitsPerWeight() const {
  // Count what a packed deployment stores: codes at `bits`, scales at 16
  // (or 8 + the second level with double quantization), zero points at
  // `bits`, outlier columns at 16 plus their 32-bit index. Byte padding of
  // rows is not counted (a flat packing has none).
  GroupLayout g = layout();
  double bits = double(rows) * cols * scheme.bits;
  int64_t scales = g.numScales();
  if (scheme.doubleQuant)
    bits += 8.0 * scales + 32.0 * ((scales + kDoubleQuantBlock - 1) / kDoubleQuantBlock) + 32;
  else
    bits += 16.0 * scales;
  if (scheme.format == WeightFormat::Int && !scheme.symmetric)
    bits += double(scales) * scheme.bits;
  bits += double(outlierIndex.size()) * (32 + 16.0 * rows);
  return bits / (double(rows) * cols);
}

DoubleQuantized doubleQuantize(std::vector<float> &scales) {
  DoubleQuantized dq;
  double sum = 0;
  for (float s : scales)
    sum += s;
  dq.mean = scales.empty() ? 0.0f : float(sum / double(scales.size()));
  int64_t n = int64_t(scales.size());
  dq.codes.resize(scales.size());
  for (int64_t b = 0; b < n; b += kDoubleQuantBlock) {
    int64_t e = std::min(n, b + kDoubleQuantBlock);
    float absmax = 0;
    for (int64_t i = b; i < e; ++i)
      absmax = std::max(absmax, std::fabs(scales[i] - dq.mean));
    float step = absmax > 0 ? absmax / 127.0f : 1.0f;
    dq.blockScales.push_back(step);
    for (int64_t i = b; i < e; ++i) {
      float q = std::clamp(std::nearbyint((scales[i] - dq.mean) / step), -127.0f, 127.0f);
      dq.codes[i] = int8_t(q);
      scales[i] = q * step + dq.mean;
    }
  }
  return dq;
}

float searchClip(const Scheme &s, const float *x, int64_t n) {
  // GPTQ (per linear) and AWQ (per candidate scale) search every group: the
  // range is read once, and the integer formats' round trip is written out
  // (the same arithmetic as fakeQuant) so that it needs no library call.
  GroupRange range = rangeOf(x, n, 1);
  float maxCode = float(s.maxCode());
  float bestClip = 1.0f;
  double bestErr = INFINITY;
  for (int i = 0; i <= 50; ++i) {
    float clip = 1.0f - 0.01f * float(i);
    GroupParams p = paramsFromRange(s, range, clip);
    double err = 0;
    if (s.format == WeightFormat::NF4) {
      for (int64_t j = 0; j < n; ++j) {
        double d = x[j] - fakeQuant(s, p, x[j]);
        err += d * d;
      }
    } else {
      for (int64_t j = 0; j < n; ++j) {
        float q = std::clamp(roundNearestEven(x[j] / p.scale) + p.zero, 0.0f, maxCode);
        double d = x[j] - (float(int(q)) - p.zero) * p.scale;
        err += d * d;
      }
    }
    if (err < bestErr) {
      bestErr = err;
      bestClip = clip;
    }
  }
  return bestClip;
}

QuantizedWeight quantizeRTN(const Scheme &s, const float *w, int64_t rows, int64_t cols,
                            bool clipSearch) {
  QuantizedWeight q(s, rows, cols);
  GroupLayout g = q.layout();
  if (g.perTensor) {
    q.params[0] = chooseParams(s, w, rows * cols, 1, clipSearch ? searchClip(s, w, rows * cols)
                                                                : 1.0f);
  } else {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t k = 0; k < g.perRow; ++k) {
        const float *x = w + r * cols + g.groupStart(k);
        int64_t n = g.groupEnd(k) - g.groupStart(k);
        q.params[r * g.perRow + k] =
            chooseParams(s, x, n, 1, clipSearch ? searchClip(s, x, n) : 1.0f);
      }
  }
  if (s.doubleQuant) {
    std::vector<float> scales;
    for (const GroupParams &p : q.params)
      scales.push_back(p.scale);
    q.doubleQuant = doubleQuantize(scales);
    for (size_t i = 0; i < scales.size(); ++i)
      q.params[i].scale = scales[i] != 0 ? scales[i] : 1.0f;
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      q.codes[r * cols + c] = uint8_t(quantizeValue(s, q.params[g.index(r, c)], w[r * cols + c]));
  return q;
}

std::vector<float> splitOutliers(QuantizedWeight &q, const float *w,
                                 llvm::ArrayRef<int32_t> channels) {
  std::vector<float> rest(w, w + q.rows * q.cols);
  q.outlierIndex.assign(channels.begin(), channels.end());
  std::sort(q.outlierIndex.begin(), q.outlierIndex.end());
  int64_t k = int64_t(q.outlierIndex.size());
  q.outlierWeight.assign(size_t(q.rows * k), 0.0f);
  for (int64_t r = 0; r < q.rows; ++r)
    for (int64_t j = 0; j < k; ++j) {
      float &v = rest[r * q.cols + q.outlierIndex[j]];
      q.outlierWeight[r * k + j] = roundToHalf(v);
      v = 0;
    }
  return rest;
}

std::vector<std::string> referencedTensorNames(mlir::ModuleOp module) {
  std::vector<std::string> names;
  module.walk([&](qnt::ParamOp p) { names.push_back(p.getName().str()); });
  module.walk([&](qnt::QParamOp p) {
    for (std::string &n : storedTensorNames(p.getName().str(), Scheme::fromAttr(p.getScheme()),
                                            p.getScheme().getOutliers()))
      names.push_back(std::move(n));
  });
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

std::vector<uint8_t> packBits(llvm::ArrayRef<uint8_t> codes, int64_t rows, int64_t cols,
                              int64_t bits) {
  int64_t rowBytes = packedRowBytes(cols, bits);
  std::vector<uint8_t> out(size_t(rows * rowBytes), 0);
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t *row = out.data() + r * rowBytes;
    for (int64_t c = 0; c < cols; ++c) {
      uint32_t v = codes[r * cols + c];
      int64_t bit = c * bits;
      for (int64_t b = 0; b < bits; ++b, ++bit)
        if (v >> b & 1)
          row[bit / 8] |= uint8_t(1u << (bit % 8));
    }
  }
  return out;
}

std::vector<uint8_t> unpackBits(const uint8_t *packed, int64_t rows, int64_t cols,
                                int64_t bits) {
  int64_t rowBytes = packedRowBytes(cols, bits);
  std::vector<uint8_t> out(size_t(rows * cols), 0);
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t *row = packed + r * rowBytes;
    for (int64_t c = 0; c < cols; ++c) {
      uint32_t v = 0;
      int64_t bit = c * bits;
      for (int64_t b = 0; b < bits; ++b, ++bit)
        v |= uint32_t(row[bit / 8] >> (bit % 8) & 1) << b;
      out[r * cols + c] = uint8_t(v);
    }
  }
  return out;
}

namespace {

template <typename T>
TensorView bytesView(DType dtype, std::vector<int64_t> shape, const std::vector<T> &values) {
  auto buffer = std::make_shared<std::vector<T>>(values);
  TensorView v;
  v.dtype = dtype;
  v.shape = std::move(shape);
  v.data = reinterpret_cast<const uint8_t *>(buffer->data());
  v.nbytes = buffer->size() * sizeof(T);
  v.owner = buffer;
  return v;
}

std::vector<uint16_t> toHalfBits(const std::vector<float> &values) {
  std::vector<uint16_t> out;
  out.reserve(values.size());
  for (float v : values)
    out.push_back(floatToHalf(v));
  return out;
}

bool usesZeros(const Scheme &s) { return s.format == WeightFormat::Int && !s.symmetric; }

} // namespace

std::vector<std::string> storedTensorNames(const std::string &name, const Scheme &s,
                                           int64_t outliers) {
  std::vector<std::string> names{name + ".qweight"};
  if (s.doubleQuant) {
    names.push_back(name + ".scales_q");
    names.push_back(name + ".scales_scale");
    names.push_back(name + ".scales_mean");
  } else {
    names.push_back(name + ".scales");
  }
  if (usesZeros(s))
    names.push_back(name + ".zeros");
  if (outliers > 0) {
    names.push_back(name + ".outlier_index");
    names.push_back(name + ".outlier_weight");
  }
  return names;
}

void storeQuantized(ParameterStore &store, const std::string &name, const QuantizedWeight &q) {
  const Scheme &s = q.scheme;
  GroupLayout g = q.layout();
  int64_t scaleRows = g.perTensor ? 1 : q.rows;
  store.set(name + ".qweight", bytesView(DType::U8, {q.rows, packedRowBytes(q.cols, s.bits)},
                                         packBits(q.codes, q.rows, q.cols, s.bits)));
  std::vector<float> scales;
  for (const GroupParams &p : q.params)
    scales.push_back(p.scale);
  if (s.doubleQuant) {
    const DoubleQuantized &dq = q.doubleQuant;
    store.set(name + ".scales_q", bytesView(DType::I8, {scaleRows, g.perRow}, dq.codes));
    store.set(name + ".scales_scale",
              bytesView(DType::F32, {int64_t(dq.blockScales.size())}, dq.blockScales));
    store.set(name + ".scales_mean", bytesView(DType::F32, {1}, std::vector<float>{dq.mean}));
  } else {
    store.set(name + ".scales", bytesView(DType::F16, {scaleRows, g.perRow}, toHalfBits(scales)));
  }
  if (usesZeros(s)) {
    std::vector<uint8_t> zeros;
    for (const GroupParams &p : q.params)
      zeros.push_back(uint8_t(p.zero));
    store.set(name + ".zeros",
              bytesView(DType::U8, {scaleRows, packedRowBytes(g.perRow, s.bits)},
                        packBits(zeros, scaleRows, g.perRow, s.bits)));
  }
  if (!q.outlierIndex.empty()) {
    int64_t k = int64_t(q.outlierIndex.size());
    store.set(name + ".outlier_index", bytesView(DType::I32, {k}, q.outlierIndex));
    store.set(name + ".outlier_weight",
              bytesView(DType::F16, {q.rows, k}, toHalfBits(q.outlierWeight)));
  }
}

namespace {

llvm::Expected<const TensorView *> expectTensor(const ParameterStore &store,
                                                const std::string &name, DType dtype,
                                                std::vector<int64_t> shape) {
  auto t = store.get(name);
  if (!t)
    return t.takeError();
  if ((*t)->dtype != dtype || (*t)->shape != shape) {
    TensorView want;
    want.shape = shape;
    return makeError("quantized tensor '" + name + "' should be " +
                     std::string(dtypeName(dtype)) + " " + want.shapeString() + ", found " +
                     std::string(dtypeName((*t)->dtype)) + " " + (*t)->shapeString());
  }
  return *t;
}

template <typename T> std::vector<T> copyOut(const TensorView *t) {
  std::vector<T> v(size_t(t->numel()));
  std::memcpy(v.data(), t->data, v.size() * sizeof(T));
  return v;
}

} // namespace

llvm::Expected<QuantizedWeight> loadQuantized(const ParameterStore &store, llvm::StringRef nameRef,
                                              const Scheme &s, int64_t rows, int64_t cols,
                                              int64_t outliers) {
  std::string name = nameRef.str();
  QuantizedWeight q(s, rows, cols);
  GroupLayout g = q.layout();
  int64_t scaleRows = g.perTensor ? 1 : rows;
  auto packed = expectTensor(store, name + ".qweight", DType::U8,
                             {rows, packedRowBytes(cols, s.bits)});
  if (!packed)
    return packed.takeError();
  q.codes = unpackBits((*packed)->data, rows, cols, s.bits);
  std::vector<float> scales;
  if (s.doubleQuant) {
    auto codes = expectTensor(store, name + ".scales_q", DType::I8, {scaleRows, g.perRow});
    if (!codes)
      return codes.takeError();
    int64_t blocks = (g.numScales() + kDoubleQuantBlock - 1) / kDoubleQuantBlock;
    auto steps = expectTensor(store, name + ".scales_scale", DType::F32, {blocks});
    if (!steps)
      return steps.takeError();
    auto mean = expectTensor(store, name + ".scales_mean", DType::F32, {1});
    if (!mean)
      return mean.takeError();
    std::vector<int8_t> c = copyOut<int8_t>(*codes);
    std::vector<float> st = copyOut<float>(*steps);
    float m = copyOut<float>(*mean)[0];
    for (size_t i = 0; i < c.size(); ++i)
      scales.push_back(float(c[i]) * st[i / kDoubleQuantBlock] + m);
    q.doubleQuant.codes = std::move(c);
    q.doubleQuant.blockScales = std::move(st);
    q.doubleQuant.mean = m;
  } else {
    auto t = expectTensor(store, name + ".scales", DType::F16, {scaleRows, g.perRow});
    if (!t)
      return t.takeError();
    scales = (*t)->toFloats();
  }
  std::vector<uint8_t> zeros;
  if (usesZeros(s)) {
    auto z = expectTensor(store, name + ".zeros", DType::U8,
                          {scaleRows, packedRowBytes(g.perRow, s.bits)});
    if (!z)
      return z.takeError();
    zeros = unpackBits((*z)->data, scaleRows, g.perRow, s.bits);
  }
  int64_t half = int64_t(1) << (s.bits - 1);
  for (size_t i = 0; i < scales.size(); ++i) {
    if (!std::isfinite(scales[i]))
      return makeError("quantized tensor '" + name + "' has a non-finite scale");
    q.params[i].scale = scales[i] != 0 ? scales[i] : 1.0f;
    q.params[i].zero = s.format == WeightFormat::NF4 ? 0.0f
                       : usesZeros(s)               ? float(zeros[i])
                                                    : float(half);
  }
  if (outliers > 0) {
    auto idx = expectTensor(store, name + ".outlier_index", DType::I32, {outliers});
    if (!idx)
      return idx.takeError();
    auto ow = expectTensor(store, name + ".outlier_weight", DType::F16, {rows, outliers});
    if (!ow)
      return ow.takeError();
    q.outlierIndex = copyOut<int32_t>(*idx);
    for (int32_t c : q.outlierIndex)
      if (c < 0 || c >= cols)
        return makeError("quantized tensor '" + name + ".outlier_index' names channel " +
                         std::to_string(c) + " outside [0, " + std::to_string(cols) + ")");
    q.outlierWeight = (*ow)->toFloats();
  }
  return q;
}

} // namespace qopt::qmath
