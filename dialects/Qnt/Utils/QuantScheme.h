//===- QuantScheme.h - weight quantization math and storage -----*- C++ -*-===//
//
// The one definition of how a weight is quantized, dequantized, packed into
// the parameter store and counted in bits per weight. Passes (RTN, GPTQ, AWQ,
// SmoothQuant, LLM.int8, mixed precision), the reference executor and the
// report all go through it, so the fake-quant value a pass optimizes is the
// value the executor runs.
//
// Groups: a row of `cols` input channels is cut into groups of `groupSize`
// (0: the whole row, per output channel; -1: the whole tensor shares one
// group). When groupSize does not divide cols, the last group of the row
// absorbs the remainder: stories260K's w2 rows, 172 = 5 * 32 + 12 wide, get
// four groups of 32 and one of 44 under g32. A row never holds more scales
// than cols / groupSize, so bits per weight never exceed the divisible case
// (a separate 12-wide group would cost 4.56 bpw at int4 g32).
//
//===----------------------------------------------------------------------===//
#ifndef QNT_UTILS_QUANTSCHEME_H
#define QNT_UTILS_QUANTSCHEME_H

#include "Qnt/IR/QntDialect.h"
#include "qopt/Support/ParameterStore.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace qopt::qmath {

struct Scheme {
  qnt::WeightFormat format = qnt::WeightFormat::Int;
  int64_t bits = 8;
  int64_t groupSize = 0;
  bool symmetric = true;
  bool doubleQuant = false;

  static Scheme fromAttr(qnt::WeightQuantAttr attr);
  qnt::WeightQuantAttr toAttr(mlir::MLIRContext *ctx, int64_t outliers = 0) const;
  /// "int4 g32 asym", "int8 per-channel sym", "nf4 g64 dq".
  std::string describe() const;
  /// Empty when the scheme is usable, else why not (one line).
  std::string validate() const;
  int64_t maxCode() const { return (int64_t(1) << bits) - 1; }
};

/// Group geometry of a [rows, cols] weight under a scheme.
struct GroupLayout {
  int64_t rows = 0, cols = 0;
  int64_t width = 0;     // columns per group (the last one absorbs the remainder)
  int64_t perRow = 0;    // groups per row (1 for per-tensor)
  bool perTensor = false;
  GroupLayout(const Scheme &s, int64_t rows, int64_t cols);
  int64_t groupOf(int64_t col) const {
    return perTensor ? 0 : std::min(col / width, perRow - 1);
  }
  /// Index into the [rows, perRow] scale array (per-tensor: always 0).
  int64_t index(int64_t row, int64_t col) const {
    return perTensor ? 0 : row * perRow + groupOf(col);
  }
  int64_t groupStart(int64_t g) const { return g * width; }
  int64_t groupEnd(int64_t g) const { return g + 1 >= perRow ? cols : (g + 1) * width; }
  int64_t numScales() const { return perTensor ? 1 : rows * perRow; }
};

/// The quantization parameters of one group. `scale` is exactly
/// representable in f16 (it is stored as f16); `zero` is an integer code.
struct GroupParams {
  float scale = 1.0f;
  float zero = 0.0f;
};

/// Picks a group's parameters from its values. `clip` in (0, 1] shrinks the
/// range (clipping search). int: symmetric maps the value of largest
/// magnitude to the most negative code (llama.cpp's Q4_0 convention, which
/// uses all 2^bits levels); asymmetric spans [min(x, 0), max(x, 0)] with an
/// integer zero point (GPTQ's convention). nf4: scale = absmax.
GroupParams chooseParams(const Scheme &s, const float *x, int64_t n, int64_t stride = 1,
                         float clip = 1.0f);
/// The clip factor in {1.00, 0.99, ..., 0.50} whose parameters give the
/// least squared weight error on the group.
float searchClip(const Scheme &s, const float *x, int64_t n);
/// One value to its code and back.
int quantizeValue(const Scheme &s, const GroupParams &p, float x);
float dequantizeValue(const Scheme &s, const GroupParams &p, int code);
inline float fakeQuant(const Scheme &s, const GroupParams &p, float x) {
  return dequantizeValue(s, p, quantizeValue(s, p, x));
}

/// The 16 NormalFloat-4 levels of QLoRA (Dettmers et al. 2023, appendix E).
llvm::ArrayRef<float> nf4Levels();

/// QLoRA double quantization of NF4 scales: scales minus their mean, as
/// symmetric int8 in blocks of 256 with an f32 scale per block. Rewrites
/// `scales` in place to the values the stored codes decode to.
struct DoubleQuantized {
  std::vector<int8_t> codes;
  std::vector<float> blockScales;
  float mean = 0;
};
DoubleQuantized doubleQuantize(std::vector<float> &scales);
constexpr int64_t kDoubleQuantBlock = 256;

/// A quantized weight, unpacked: what passes build and the store holds.
struct QuantizedWeight {
  Scheme scheme;
  int64_t rows = 0, cols = 0;
  std::vector<uint8_t> codes;       // [rows, cols]
  std::vector<GroupParams> params;  // GroupLayout::numScales()
  /// LLM.int8 outliers: input channels kept in 16 bit (ascending), and their
  /// weights [rows, outlierIndex.size()] (f16-exact). Their codes are unused.
  std::vector<int32_t> outlierIndex;
  std::vector<float> outlierWeight;
  /// With scheme.doubleQuant: the stored form of the scales (params hold
  /// what it decodes to).
  DoubleQuantized doubleQuant;

  QuantizedWeight() = default;
  QuantizedWeight(const Scheme &s, int64_t rows, int64_t cols);
  GroupLayout layout() const { return GroupLayout(scheme, rows, cols); }
  /// Dequantized [rows, cols] f32 weights (outlier channels restored).
  std::vector<float> dequantize() const;
  /// Bits of everything stored for this weight, divided by rows * cols.
  double bitsPerWeight() const;
  /// Bytes the stored tensors occupy.
  int64_t storedBytes() const;
};

/// Round-to-nearest quantization of a row-major [rows, cols] weight.
/// `clipSearch` picks each group's clip factor minimizing the weight MSE.
QuantizedWeight quantizeRTN(const Scheme &s, const float *w, int64_t rows, int64_t cols,
                            bool clipSearch = false);


/// Keeps `channels` (input columns) of `w` in f16 and zeroes them in the
/// returned copy, which the caller quantizes as usual.
std::vector<float> splitOutliers(QuantizedWeight &q, const float *w,
                                 llvm::ArrayRef<int32_t> channels);

/// Writes the tensors behind `qnt.qparam name` (see WeightQuantAttr).
void storeQuantized(ParameterStore &store, const std::string &name, const QuantizedWeight &q);
/// Reads them back; errors name the missing or malformed tensor.
llvm::Expected<QuantizedWeight> loadQuantized(const ParameterStore &store,
                                              llvm::StringRef name, const Scheme &s,
                                              int64_t rows, int64_t cols, int64_t outliers);
/// Names of the tensors behind a quantized weight.
std::vector<std::string> storedTensorNames(const std::string &name, const Scheme &s,
                                           int64_t outliers);

/// Every store tensor the module's qnt.param and qnt.qparam ops read.
std::vector<std::string> referencedTensorNames(mlir::ModuleOp module);

/// Packs `bits`-bit codes row by row, little-endian bit order, rows padded
/// to a byte; and back.
std::vector<uint8_t> packBits(llvm::ArrayRef<uint8_t> codes, int64_t rows, int64_t cols,
                              int64_t bits);
std::vector<uint8_t> unpackBits(const uint8_t *packed, int64_t rows, int64_t cols,
                                int64_t bits);
inline int64_t packedRowBytes(int64_t cols, int64_t bits) { return (cols * bits + 7) / 8; }

/// Rounds to the nearest f16 value (what the store keeps for scales).
float roundToHalf(float x);

} // namespace qopt::qmath

#endif
