//===- LowerNormOps.cpp - embedding and RMS norms to runtime calls ---------===//
#include "ProgramBuilder.h"

#include "Qnt/IR/QntDialect.h"
#include "Qnt/Utils/LinearOps.h"

using namespace mlir;

namespace qopt::cpu {
namespace {

/// A norm's quant_bits must be 8 and its result read only by linears of
/// int8 weights: they get integer codes, not floats.
llvm::Error checkQuantizingNorm(ProgramBuilder &pb, Operation *op, Value result,
                                std::optional<uint64_t> bits) {
  if (!bits)
    return llvm::Error::success();
  if (*bits != 8)
    return pb.unsupported(op, "quant_bits must be 8");
  if (!qnt::feedsOnlyInt8Linears(result, /*allowOutliers=*/false))
    return pb.unsupported(op, "a quantizing norm may feed only linears of int8 weights "
                              "without outlier channels");
  return llvm::Error::success();
}

llvm::Error lowerEmbedding(ProgramBuilder &pb, qnt::EmbeddingOp e) {
  if (e.getTokens() != pb.forward().getArgument(0))
    return pb.unsupported(e, "tokens must be the function's argument");
  auto slot = pb.slotOf(e.getTable(), /*gathered=*/true);
  if (!slot)
    return slot.takeError();
  Value out = pb.allocate(e.getResult());
  pb.call("qrt_embed", {pb.ctxArg, pb.constI64(*slot), pb.tokensArg, pb.nArg, out});
  return llvm::Error::success();
}

llvm::Error lowerRmsNorm(ProgramBuilder &pb, qnt::RmsNormOp r) {
  if (auto err = checkQuantizingNorm(pb, r, r.getResult(), r.getQuantBits()))
    return err;
  auto slot = pb.slotOf(r.getWeight());
  if (!slot)
    return slot.takeError();
  Value in = pb.bufferOf(r.getInput());
  Value out = pb.allocate(r.getResult());
  pb.call(r.getQuantBits() ? "qrt_rms_norm_quant" : "qrt_rms_norm",
          {pb.ctxArg, pb.constI64(*slot), in, pb.nArg, pb.constF32(r.getEps().convertToFloat()),
           out});
  return llvm::Error::success();
}

llvm::Error lowerAddRmsNorm(ProgramBuilder &pb, qnt::AddRmsNormOp r) {
  if (auto err = checkQuantizingNorm(pb, r, r.getResult(), r.getQuantBits()))
    return err;
  auto slot = pb.slotOf(r.getWeight());
  if (!slot)
    return slot.takeError();
  Value lhs = pb.bufferOf(r.getLhs()), rhs = pb.bufferOf(r.getRhs());
  Value sum = pb.allocate(r.getSum());
  Value out = pb.allocate(r.getResult());
  pb.call("qrt_add_rms_norm", {pb.ctxArg, pb.constI64(*slot), lhs, rhs, pb.nArg,
                               pb.constF32(r.getEps().convertToFloat()),
                               pb.constI64(r.getQuantBits() ? 1 : 0), sum, out});
  return llvm::Error::success();
}

} // namespace

void addNormLowerings(LoweringTable &table) {
  table.add<qnt::EmbeddingOp>(lowerEmbedding);
  table.add<qnt::RmsNormOp>(lowerRmsNorm);
  table.add<qnt::AddRmsNormOp>(lowerAddRmsNorm);
}

} // namespace qopt::cpu
