//===- LowerAttentionOps.cpp - rope and attention to runtime calls ---------===//
#include "ProgramBuilder.h"

#include "Qnt/IR/QntDialect.h"

#include <cmath>

using namespace mlir;

namespace qopt::cpu {
namespace {

llvm::Error lowerRope(ProgramBuilder &pb, qnt::RopeOp r) {
  if (r.getPos() != pb.forward().getArgument(1))
    return pb.unsupported(r, "pos must be the function's argument");
  Value in = pb.bufferOf(r.getInput());
  Value out = pb.allocate(r.getResult());
  bool interleaved = r.getStyle() == qnt::RopeStyle::Interleaved;
  Value scale = r.getFreqScale() ? pb.constF32Array(*r.getFreqScale()) : pb.nullPointer();
  pb.call("qrt_rope", {pb.ctxArg, in, pb.nArg, pb.constI64(ProgramBuilder::width(r.getInput())),
                       pb.constI64(r.getHeadDim()), pb.posArg,
                       pb.constF32(r.getTheta().convertToFloat()), pb.constI64(interleaved),
                       scale, out});
  return llvm::Error::success();
}

llvm::Error lowerAttention(ProgramBuilder &pb, qnt::AttentionOp a) {
  if (a.getPos() != pb.forward().getArgument(1))
    return pb.unsupported(a, "pos must be the function's argument");
  int64_t headDim = a.getHeadDim();
  float scale =
      a.getScale() ? a.getScale()->convertToFloat() : 1.0f / std::sqrt(float(headDim));
  Value q = pb.bufferOf(a.getQ()), k = pb.bufferOf(a.getK()), v = pb.bufferOf(a.getV());
  Value out = pb.allocate(a.getResult());
  pb.call("qrt_attention", {pb.ctxArg, pb.constI64(a.getLayer()), q, k, v, pb.nArg, pb.posArg,
                            pb.constI64(a.getNumHeads()), pb.constI64(a.getNumKvHeads()),
                            pb.constI64(headDim), pb.constF32(scale),
                            pb.constI64(a.getWindow().value_or(0)), out});
  return llvm::Error::success();
}

} // namespace

void addAttentionLowerings(LoweringTable &table) {
  table.add<qnt::RopeOp>(lowerRope);
  table.add<qnt::AttentionOp>(lowerAttention);
}

} // namespace qopt::cpu
