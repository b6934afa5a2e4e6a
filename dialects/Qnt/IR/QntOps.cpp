//===- QntOps.cpp - qnt op verifiers ---------------------------------------===//
//
// Verifiers check what the executor and later lowerings rely on: feature
// dimensions agree, head counts divide, and weights have static shapes.
// Dynamic (leading) dimensions are accepted wherever a static one is.
//
//===----------------------------------------------------------------------===//
#include "Qnt/IR/QntDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace qopt::qnt;

namespace {

/// True when two dimensions may be equal at run time.
bool dimsCompatible(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

int64_t lastDim(Value v) { return cast<RankedTensorType>(v.getType()).getShape().back(); }

LogicalResult requireRankAtLeast(Operation *op, Value v, int64_t rank,
                                 StringRef what) {
  if (cast<RankedTensorType>(v.getType()).getRank() < rank)
    return op->emitOpError() << what << " must have rank >= " << rank;
  return success();
}

LogicalResult requireStaticMatrix(Operation *op, Value v, StringRef what) {
  auto type = cast<RankedTensorType>(v.getType());
  if (type.getRank() != 2 || !type.hasStaticShape())
    return op->emitOpError() << what << " must be a statically shaped 2-D tensor, got "
                             << type;
  return success();
}

/// Checks that `result` has the leading dims of `input` and last dim `last`.
LogicalResult verifyRowMap(Operation *op, Value input, Value result,
                           int64_t last) {
  auto in = cast<RankedTensorType>(input.getType());
  auto out = cast<RankedTensorType>(result.getType());
  if (in.getRank() != out.getRank())
    return op->emitOpError() << "result rank " << out.getRank()
                             << " does not match input rank " << in.getRank();
  for (int64_t i = 0; i + 1 < in.getRank(); ++i)
    if (!dimsCompatible(in.getDimSize(i), out.getDimSize(i)))
      return op->emitOpError() << "result dimension " << i << " ("
                               << out.getDimSize(i) << ") does not match input ("
                               << in.getDimSize(i) << ")";
  if (!dimsCompatible(out.getShape().back(), last))
    return op->emitOpError() << "result feature dimension " << out.getShape().back()
                             << " should be " << last;
  return success();
}

/// Shared by linear and lm_head: x [..., K], W [N, K] -> [..., N].
LogicalResult verifyWeightProduct(Operation *op, Value input, Value weight,
                                  Value result) {
  if (failed(requireRankAtLeast(op, input, 1, "input")) ||
      failed(requireStaticMatrix(op, weight, "weight")))
    return failure();
  auto w = cast<RankedTensorType>(weight.getType());
  if (!dimsCompatible(lastDim(input), w.getDimSize(1)))
    return op->emitOpError() << "input features (" << lastDim(input)
                             << ") do not match weight in_features ("
                             << w.getDimSize(1) << ")";
  return verifyRowMap(op, input, result, w.getDimSize(0));
}

/// A linear's bias: 1-D, one value per row of its weight.
LogicalResult verifyBias(Operation *op, Value weight, Value bias) {
  auto b = cast<RankedTensorType>(bias.getType());
  int64_t n = cast<ShapedType>(weight.getType()).getDimSize(0);
  if (b.getRank() != 1 || b.getDimSize(0) != n)
    return op->emitOpError() << "bias must be a 1-D tensor of " << n << " elements, got " << b;
  return success();
}

} // namespace

LogicalResult ParamOp::verify() {
  if (getName().empty())
    return emitOpError("parameter name must not be empty");
  if (!getType().hasStaticShape())
    return emitOpError() << "parameter type must be statically shaped, got "
                         << getType();
  return success();
}

LogicalResult QParamOp::verify() {
  if (getName().empty())
    return emitOpError("parameter name must not be empty");
  if (getType().getRank() != 2 || !getType().hasStaticShape())
    return emitOpError() << "a quantized weight must be a statically shaped 2-D tensor, got "
                         << getType();
  if (getScheme().getOutliers() > getType().getDimSize(1))
    return emitOpError() << "has " << getScheme().getOutliers()
                         << " outlier channels but only " << getType().getDimSize(1)
                         << " input channels";
  return success();
}

LogicalResult DynamicQuantOp::verify() {
  if (getBits() < 2 || getBits() > 8)
    return emitOpError() << "bits must be in [2, 8], got " << getBits();
  if (auto keep = getKeepChannels()) {
    int64_t width = lastDim(getInput());
    for (int64_t c : *keep)
      if (c < 0 || (!ShapedType::isDynamic(width) && c >= width))
        return emitOpError() << "keep_channels entry " << c << " is outside [0, " << width
                             << ")";
  }
  return success();
}

LogicalResult EmbeddingOp::verify() {
  if (failed(requireStaticMatrix(*this, getTable(), "table")))
    return failure();
  auto tokens = getTokens().getType();
  auto out = getResult().getType();
  if (out.getRank() != tokens.getRank() + 1)
    return emitOpError("result rank must be the token rank plus one");
  for (int64_t i = 0; i < tokens.getRank(); ++i)
    if (!dimsCompatible(tokens.getDimSize(i), out.getDimSize(i)))
      return emitOpError() << "result dimension " << i
                           << " does not match the token dimension";
  int64_t dim = getTable().getType().getDimSize(1);
  if (!dimsCompatible(out.getShape().back(), dim))
    return emitOpError() << "result feature dimension " << out.getShape().back()
                         << " does not match table width " << dim;
  return success();
}

/// Shared by rms_norm and add_rms_norm.
static LogicalResult verifyNorm(Operation *op, Value input, Value weight, Value result, float eps,
                         std::optional<int64_t> quantBits) {
  auto w = cast<RankedTensorType>(weight.getType());
  if (w.getRank() != 1 || !w.hasStaticShape())
    return op->emitOpError() << "weight must be a static 1-D tensor, got " << w;
  if (failed(requireRankAtLeast(op, input, 1, "input")))
    return failure();
  if (!dimsCompatible(lastDim(input), w.getDimSize(0)))
    return op->emitOpError() << "weight length " << w.getDimSize(0)
                             << " does not match input features " << lastDim(input);
  if (input.getType() != result.getType())
    return op->emitOpError("result type must equal the input type");
  if (!(eps > 0.0f))
    return op->emitOpError("eps must be positive");
  if (quantBits && (*quantBits < 2 || *quantBits > 8))
    return op->emitOpError() << "quant_bits must be in [2, 8], got " << *quantBits;
  return success();
}

LogicalResult RmsNormOp::verify() {
  return verifyNorm(*this, getInput(), getWeight(), getResult(), getEps().convertToFloat(),
                    getQuantBits());
}

LogicalResult AddRmsNormOp::verify() {
  if (getLhs().getType() != getRhs().getType() || getLhs().getType() != getSum().getType())
    return emitOpError("lhs, rhs and sum must have one type");
  return verifyNorm(*this, getSum(), getWeight(), getResult(), getEps().convertToFloat(),
                    getQuantBits());
}

LogicalResult MultiLinearOp::verify() {
  if (getWeights().size() < 2 || getWeights().size() != getResults().size())
    return emitOpError() << "needs at least two weights and one result per weight, got "
                         << getWeights().size() << " weights and " << getResults().size()
                         << " results";
  for (auto [w, r] : llvm::zip(getWeights(), getResults()))
    if (failed(verifyWeightProduct(*this, getInput(), w, r)))
      return failure();
  if (getBiases().empty())
    return success();
  if (getBiases().size() != getWeights().size())
    return emitOpError() << "needs no biases or one per weight, got " << getBiases().size()
                         << " biases for " << getWeights().size() << " weights";
  for (auto [w, bias] : llvm::zip(getWeights(), getBiases()))
    if (failed(verifyBias(*this, w, bias)))
      return failure();
  return success();
}

LogicalResult SwigluLinearOp::verify() {
  if (getGateWeight().getType() != getUpWeight().getType())
    return emitOpError() << "gate and up weights must have one shape, got "
                         << getGateWeight().getType() << " and " << getUpWeight().getType();
  return verifyWeightProduct(*this, getInput(), getGateWeight(), getResult());
}

LogicalResult LinearOp::verify() {
  if (failed(verifyWeightProduct(*this, getInput(), getWeight(), getResult())))
    return failure();
  if (Value bias = getBias())
    return verifyBias(*this, getWeight(), bias);
  return success();
}

LogicalResult LmHeadOp::verify() {
  return verifyWeightProduct(*this, getInput(), getWeight(), getResult());
}

LogicalResult MatMulOp::verify() {
  auto l = getLhs().getType(), r = getRhs().getType(), o = getResult().getType();
  if (l.getRank() != 2 || r.getRank() != 2 || o.getRank() != 2)
    return emitOpError("operands and result must be 2-D");
  if (!dimsCompatible(l.getDimSize(1), r.getDimSize(0)))
    return emitOpError() << "contraction dimensions differ: " << l.getDimSize(1)
                         << " vs " << r.getDimSize(0);
  if (!dimsCompatible(o.getDimSize(0), l.getDimSize(0)) ||
      !dimsCompatible(o.getDimSize(1), r.getDimSize(1)))
    return emitOpError("result shape must be [lhs rows, rhs columns]");
  return success();
}

LogicalResult RopeOp::verify() {
  int64_t headDim = getHeadDim();
  if (headDim <= 0 || headDim % 2 != 0)
    return emitOpError() << "head_dim must be positive and even, got " << headDim;
  if (getInput().getType().getRank() != 2)
    return emitOpError("input must be [seq, heads * head_dim]");
  int64_t width = lastDim(getInput());
  if (!ShapedType::isDynamic(width) && width % headDim != 0)
    return emitOpError() << "feature dimension " << width
                         << " is not a multiple of head_dim " << headDim;
  if (!(getTheta().convertToFloat() > 0.0f))
    return emitOpError("theta must be positive");
  if (auto scale = getFreqScale()) {
    if (int64_t(scale->size()) != headDim / 2)
      return emitOpError() << "freq_scale has " << scale->size()
                           << " values; head_dim / 2 is " << headDim / 2;
    for (float v : *scale)
      if (!(v > 0.0f) || !std::isfinite(v))
        return emitOpError("freq_scale values must be positive and finite");
  }
  return success();
}

LogicalResult AttentionOp::verify() {
  int64_t heads = getNumHeads(), kvHeads = getNumKvHeads(), headDim = getHeadDim();
  if (heads <= 0 || kvHeads <= 0 || headDim <= 0)
    return emitOpError("num_heads, num_kv_heads and head_dim must be positive");
  if (auto window = getWindow(); window && *window <= 0)
    return emitOpError() << "window must be positive, got " << *window;
  if (heads % kvHeads != 0)
    return emitOpError() << "num_heads (" << heads
                         << ") must be a multiple of num_kv_heads (" << kvHeads << ")";
  for (auto [v, what] : {std::pair<Value, StringRef>{getQ(), "q"},
                         {getK(), "k"}, {getV(), "v"}, {getResult(), "result"}})
    if (cast<RankedTensorType>(v.getType()).getRank() != 2)
      return emitOpError() << what << " must be 2-D [seq, features]";
  if (!dimsCompatible(lastDim(getQ()), heads * headDim))
    return emitOpError() << "q features must be num_heads * head_dim = "
                         << heads * headDim;
  if (!dimsCompatible(lastDim(getResult()), heads * headDim))
    return emitOpError() << "result features must be num_heads * head_dim = "
                         << heads * headDim;
  for (Value kv : {getK(), getV()})
    if (!dimsCompatible(lastDim(kv), kvHeads * headDim))
      return emitOpError() << "k and v features must be num_kv_heads * head_dim = "
                           << kvHeads * headDim;
  KVCacheType cache = getCache().getType();
  int64_t layer = getLayerAttr().getInt(); // signed: a negative layer is an error too
  if (layer < 0 || layer >= cache.getLayers())
    return emitOpError() << "layer " << layer << " is outside the cache's "
                         << cache.getLayers() << " layers";
  if (cache.getKvHeads() != kvHeads || cache.getHeadDim() != headDim)
    return emitOpError() << "cache holds " << cache.getKvHeads() << " heads of "
                         << cache.getHeadDim() << ", attention needs " << kvHeads
                         << " heads of " << headDim;
  return success();
}

//===----------------------------------------------------------------------===//
// The linear family (QntInterfaces.td)
//===----------------------------------------------------------------------===//

Value LinearOp::getLinearInput() { return getInput(); }
SmallVector<Value, 3> LinearOp::getLinearWeights() { return {getWeight()}; }
Value MultiLinearOp::getLinearInput() { return getInput(); }
SmallVector<Value, 3> MultiLinearOp::getLinearWeights() { return SmallVector<Value, 3>(getWeights()); }
Value SwigluLinearOp::getLinearInput() { return getInput(); }
SmallVector<Value, 3> SwigluLinearOp::getLinearWeights() {
  return {getGateWeight(), getUpWeight()};
}

#include "Qnt/IR/QntInterfaces.cpp.inc"

#define GET_OP_CLASSES
#include "Qnt/IR/QntOps.cpp.inc"
