//===- ExecQuantOps.cpp - parameters and quantization ops in the executor -===//
#include "ExecFrame.h"

#include "Qnt/IR/QntDialect.h"
#include "qopt/Exec/Kernels.h"

#include "mlir/Dialect/Quant/IR/Quant.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"

#include <algorithm>
#include <cmath>

using namespace mlir;

namespace qopt::exec {
namespace {

constexpr const char *kPerTensorOnly =
    "only per-tensor !quant.uniform activations are supported";

/// The per-tensor !quant.uniform element type of an activation, or null.
quant::UniformQuantizedType perTensorUniform(Value v) {
  return dyn_cast<quant::UniformQuantizedType>(getElementTypeOrSelf(v.getType()));
}

/// A parameter is a view of its resolved f32 data.
template <typename ParamOpT>
llvm::Error viewParameter(Frame &f, ParamOpT p) {
  Act a;
  a.shape.assign(p.getType().getShape().begin(), p.getType().getShape().end());
  a.view = f.state.params.get(p, f.viewedParams());
  if (!a.view)
    return f.fail(p, "the executor has no data for this parameter");
  f.values[p] = std::move(a);
  return llvm::Error::success();
}

llvm::Error runQuantizeCast(Frame &f, quant::QuantizeCastOp qc) {
  // Codes are held as exact small integers in f32.
  auto type = perTensorUniform(qc.getResult());
  if (!type)
    return f.fail(qc, kPerTensorOnly);
  const Act &x = f.in(qc.getInput());
  Act out = Act::withShape(x.shape);
  float scale = float(type.getScale()), zero = float(type.getZeroPoint());
  float lo = float(type.getStorageTypeMin()), hi = float(type.getStorageTypeMax());
  const float *src = x.data();
  for (int64_t i = 0; i < out.numel(); ++i)
    out.storage[i] = std::clamp(std::nearbyint(src[i] / scale) + zero, lo, hi);
  f.values[qc] = std::move(out);
  return llvm::Error::success();
}

llvm::Error runDequantizeCast(Frame &f, quant::DequantizeCastOp dc) {
  auto type = perTensorUniform(dc.getInput());
  if (!type)
    return f.fail(dc, kPerTensorOnly);
  const Act &x = f.in(dc.getInput());
  Act out = Act::withShape(x.shape);
  float scale = float(type.getScale()), zero = float(type.getZeroPoint());
  const float *src = x.data();
  for (int64_t i = 0; i < out.numel(); ++i)
    out.storage[i] = (src[i] - zero) * scale;
  f.values[dc] = std::move(out);
  return llvm::Error::success();
}

llvm::Error runDynamicQuant(Frame &f, qnt::DynamicQuantOp dq) {
  const Act &x = f.in(dq.getInput());
  Act out = Act::withShape(x.shape);
  SmallVector<bool> keep(x.cols(), false);
  if (auto channels = dq.getKeepChannels())
    for (int64_t c : *channels)
      keep[c] = true;
  kernels::dynamicQuantRows(x.data(), x.rows(), x.cols(), dq.getBits(), keep,
                            out.storage.data());
  f.values[dq] = std::move(out);
  return llvm::Error::success();
}

} // namespace

void addQuantExecs(ExecTable &table) {
  table.add<qnt::ParamOp>(viewParameter<qnt::ParamOp>);
  table.add<qnt::QParamOp>(viewParameter<qnt::QParamOp>);
  table.add<quant::QuantizeCastOp>(runQuantizeCast);
  table.add<quant::DequantizeCastOp>(runDequantizeCast);
  table.add<qnt::DynamicQuantOp>(runDynamicQuant);
}

} // namespace qopt::exec
