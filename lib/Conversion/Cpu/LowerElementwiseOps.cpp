//===- LowerElementwiseOps.cpp - unfused glue as generated loops -----------===//
//
// What the fusion passes did not fold into a kernel call (a residual add,
// SwiGLU, static activation fake-quant) becomes an scf.for over the arena,
// computed in the reference executor's order of operations.
//
//===----------------------------------------------------------------------===//
#include "ProgramBuilder.h"

#include "Qnt/IR/QntDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Quant/IR/Quant.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"

using namespace mlir;

namespace qopt::cpu {
namespace {

llvm::Error lowerSwiglu(ProgramBuilder &pb, qnt::SwigluOp s) {
  Value out = pb.allocate(s.getResult());
  pb.elementwise({pb.bufferOf(s.getGate()), pb.bufferOf(s.getUp())}, out,
                 ProgramBuilder::width(s.getResult()), [&](ArrayRef<Value> x) {
                   return pb.mulF(pb.mulF(x[0], pb.sigmoid(x[0])), x[1]);
                 });
  return llvm::Error::success();
}

llvm::Error lowerSilu(ProgramBuilder &pb, qnt::SiluOp s) {
  Value out = pb.allocate(s.getResult());
  pb.elementwise({pb.bufferOf(s.getInput())}, out, ProgramBuilder::width(s.getResult()),
                 [&](ArrayRef<Value> x) { return pb.mulF(x[0], pb.sigmoid(x[0])); });
  return llvm::Error::success();
}

llvm::Error lowerAdd(ProgramBuilder &pb, qnt::AddOp a) {
  Value out = pb.allocate(a.getResult());
  pb.elementwise({pb.bufferOf(a.getLhs()), pb.bufferOf(a.getRhs())}, out,
                 ProgramBuilder::width(a.getResult()), [&](ArrayRef<Value> x) -> Value {
                   return arith::AddFOp::create(pb.b, pb.loc, x[0], x[1]);
                 });
  return llvm::Error::success();
}

llvm::Error lowerMul(ProgramBuilder &pb, qnt::MulOp m) {
  Value out = pb.allocate(m.getResult());
  pb.elementwise({pb.bufferOf(m.getLhs()), pb.bufferOf(m.getRhs())}, out,
                 ProgramBuilder::width(m.getResult()),
                 [&](ArrayRef<Value> x) { return pb.mulF(x[0], x[1]); });
  return llvm::Error::success();
}

/// qcast + dcast of a per-tensor !quant.uniform: static activation
/// fake-quant, (clamp(roundeven(x / s) + z, lo, hi) - z) * s, as the
/// executor computes it.
llvm::Error lowerDequantizeCast(ProgramBuilder &pb, quant::DequantizeCastOp dc) {
  auto qc = dc.getInput().getDefiningOp<quant::QuantizeCastOp>();
  auto type = qc ? dyn_cast<quant::UniformQuantizedType>(
                       getElementTypeOrSelf(dc.getInput().getType()))
                 : nullptr;
  if (!type)
    return pb.unsupported(dc, "expected quant.qcast to a per-tensor !quant.uniform");
  Value out = pb.allocate(dc.getResult());
  float scale = float(type.getScale()), zero = float(type.getZeroPoint());
  float lo = float(type.getStorageTypeMin()), hi = float(type.getStorageTypeMax());
  OpBuilder &b = pb.b;
  Location loc = pb.loc;
  pb.elementwise({pb.bufferOf(qc.getInput())}, out, ProgramBuilder::width(dc.getResult()),
                 [&](ArrayRef<Value> x) -> Value {
                   Value q = arith::DivFOp::create(b, loc, x[0], pb.constF32(scale));
                   q = math::RoundEvenOp::create(b, loc, q);
                   q = arith::AddFOp::create(b, loc, q, pb.constF32(zero));
                   q = arith::MaxNumFOp::create(b, loc, q, pb.constF32(lo));
                   q = arith::MinNumFOp::create(b, loc, q, pb.constF32(hi));
                   q = arith::SubFOp::create(b, loc, q, pb.constF32(zero));
                   return pb.mulF(q, pb.constF32(scale));
                 });
  return llvm::Error::success();
}

/// The qcast is read by its dcast, which lowers both.
llvm::Error lowerQuantizeCast(ProgramBuilder &, quant::QuantizeCastOp) {
  return llvm::Error::success();
}

} // namespace

void addElementwiseLowerings(LoweringTable &table) {
  table.add<qnt::SwigluOp>(lowerSwiglu);
  table.add<qnt::SiluOp>(lowerSilu);
  table.add<qnt::AddOp>(lowerAdd);
  table.add<qnt::MulOp>(lowerMul);
  table.add<quant::DequantizeCastOp>(lowerDequantizeCast);
  table.add<quant::QuantizeCastOp>(lowerQuantizeCast);
}

} // namespace qopt::cpu
