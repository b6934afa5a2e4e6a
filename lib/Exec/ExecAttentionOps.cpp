//===- ExecAttentionOps.cpp - rope and attention in the executor -----------===//
#include "ExecFrame.h"

#include "Qnt/IR/QntDialect.h"
#include "qopt/Exec/Kernels.h"
#include "qopt/Support/DType.h"

#include <cmath>

using namespace mlir;

namespace qopt::exec {
namespace {

llvm::Error runRope(Frame &f, qnt::RopeOp r) {
  const Act &x = f.in(r.getInput());
  Act out = Act::withShape(x.shape);
  kernels::rope(x.data(), x.rows(), x.cols(), r.getHeadDim(), f.pos,
                r.getTheta().convertToFloat(), r.getStyle() == qnt::RopeStyle::Interleaved,
                r.getFreqScale() ? r.getFreqScale()->data() : nullptr, out.storage.data());
  f.values[r] = std::move(out);
  return llvm::Error::success();
}

/// An f16 cache holds K and V rounded to half precision (nearest even).
const float *roundedToHalf(const Act &x, std::vector<float> &rounded) {
  rounded.resize(size_t(x.numel()));
  for (int64_t i = 0; i < x.numel(); ++i)
    rounded[size_t(i)] = halfToFloat(floatToHalf(x.data()[i]));
  return rounded.data();
}

/// An i8 cache holds each row of `headDim` values (one token, one KV head)
/// as int8 codes under an f32 scale (qrt_abi.h QRT_FLAG_KV_I8).
const float *roundedToInt8(const Act &x, int64_t headDim, std::vector<float> &rounded) {
  rounded.resize(size_t(x.numel()));
  for (int64_t at = 0; at < x.numel(); at += headDim)
    kernels::int8KvRow(x.data() + at, headDim, rounded.data() + at);
  return rounded.data();
}

llvm::Error runAttention(Frame &f, qnt::AttentionOp a) {
  const Act &q = f.in(a.getQ()), &k = f.in(a.getK()), &v = f.in(a.getV());
  if (q.rows() != f.n || k.rows() != f.n || v.rows() != f.n)
    return f.fail(a, "q, k and v must have one row per token");
  int64_t headDim = a.getHeadDim();
  float scale =
      a.getScale() ? a.getScale()->convertToFloat() : 1.0f / std::sqrt(float(headDim));
  const ExecState &s = f.state;
  size_t layerOffset = size_t(a.getLayer()) * s.maxSeq * s.cacheRowWidth;
  kernels::KVSlice slice{s.cacheKeys + layerOffset, s.cacheValues + layerOffset, s.maxSeq};
  Act out = Act::withShape({f.n, int64_t(a.getNumHeads()) * headDim});
  std::vector<float> k16, v16;
  const float *kData = k.data(), *vData = v.data();
  Type element = a.getCache().getType().getElementType();
  if (element.isF16()) {
    kData = roundedToHalf(k, k16);
    vData = roundedToHalf(v, v16);
  } else if (element.isSignlessInteger(8)) {
    kData = roundedToInt8(k, headDim, k16);
    vData = roundedToInt8(v, headDim, v16);
  }
  kernels::attention(s.pool, q.data(), kData, vData, f.n, f.pos, slice, a.getNumHeads(),
                     a.getNumKvHeads(), headDim, scale, a.getWindow().value_or(0),
                     out.storage.data());
  f.values[a] = std::move(out);
  return llvm::Error::success();
}

} // namespace

void addAttentionExecs(ExecTable &table) {
  table.add<qnt::RopeOp>(runRope);
  table.add<qnt::AttentionOp>(runAttention);
}

} // namespace qopt::exec
