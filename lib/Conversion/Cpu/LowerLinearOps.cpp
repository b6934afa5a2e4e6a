//===- LowerLinearOps.cpp - the linear family to runtime kernel calls ------===//
//
// qnt.linear, qnt.multi_linear, qnt.swiglu_linear and qnt.lm_head become
// calls of the runtime's weight kernels, which dequantize inside their dot
// products. How the input arrives (f32, quantized per token here, or codes
// a quantizing norm wrote) is the QRT_INPUT_* argument.
//
//===----------------------------------------------------------------------===//
#include "ProgramBuilder.h"

#include "Qnt/IR/QntDialect.h"
#include "qrt_abi.h"

using namespace mlir;

namespace qopt::cpu {
namespace {

constexpr int64_t kMaxFusedLinears = 3; // weights per qrt_linear_multi call

/// The quant_bits of a norm that quantizes `v` (its result), if any.
std::optional<uint64_t> quantizingNormBits(Value v) {
  if (auto n = v.getDefiningOp<qnt::RmsNormOp>())
    return n.getQuantBits();
  if (auto n = v.getDefiningOp<qnt::AddRmsNormOp>(); n && v == n.getResult())
    return n.getQuantBits();
  return std::nullopt;
}

/// A linear's input as the runtime takes it: the buffer, and QRT_INPUT_*.
std::pair<Value, int64_t> linearInput(ProgramBuilder &pb, Value input) {
  if (auto dq = input.getDefiningOp<qnt::DynamicQuantOp>())
    return {pb.bufferOf(dq.getInput()), QRT_INPUT_W8A8};
  if (quantizingNormBits(input))
    return {pb.bufferOf(input), QRT_INPUT_TOKEN_Q8};
  return {pb.bufferOf(input), QRT_INPUT_F32};
}

/// qrt_linear_multi over `weights` (any number, in calls of up to 3).
llvm::Error multiLinear(ProgramBuilder &pb, Value input, ValueRange weights,
                        ValueRange results) {
  auto [in, kind] = linearInput(pb, input);
  for (size_t first = 0; first < weights.size(); first += kMaxFusedLinears) {
    size_t count = std::min<size_t>(kMaxFusedLinears, weights.size() - first);
    SmallVector<Value> slotArgs, outArgs;
    for (size_t i = 0; i < kMaxFusedLinears; ++i) {
      if (i < count) {
        auto slot = pb.slotOf(weights[first + i]);
        if (!slot)
          return slot.takeError();
        slotArgs.push_back(pb.constI64(*slot));
        outArgs.push_back(pb.allocate(results[first + i]));
      } else {
        slotArgs.push_back(pb.constI64(-1));
        outArgs.push_back(LLVM::ZeroOp::create(pb.b, pb.loc, pb.ptr));
      }
    }
    pb.call("qrt_linear_multi",
            {pb.ctxArg, pb.constI64(kind), pb.constI64(int64_t(count)), slotArgs[0], slotArgs[1],
             slotArgs[2], in, pb.nArg, outArgs[0], outArgs[1], outArgs[2]});
  }
  return llvm::Error::success();
}

/// result += bias, row by row (Qwen2's q/k/v), after the product is written.
static llvm::Error addBias(ProgramBuilder &pb, Value bias, Value result) {
  if (!bias)
    return llvm::Error::success();
  auto slot = pb.slotOf(bias);
  if (!slot)
    return slot.takeError();
  pb.call("qrt_add_bias", {pb.ctxArg, pb.constI64(*slot), pb.bufferOf(result), pb.nArg,
                           pb.constI64(ProgramBuilder::width(result))});
  return llvm::Error::success();
}

static llvm::Error addBias(ProgramBuilder &pb, qnt::LinearOp l) {
  return addBias(pb, l.getBias(), l.getResult());
}

llvm::Error lowerLinear(ProgramBuilder &pb, qnt::LinearOp l) {
  auto [in, kind] = linearInput(pb, l.getInput());
  if (kind == QRT_INPUT_TOKEN_Q8) {
    if (auto err = multiLinear(pb, l.getInput(), l.getWeight(), l.getResult()))
      return err;
    return addBias(pb, l);
  }
  auto slot = pb.slotOf(l.getWeight());
  if (!slot)
    return slot.takeError();
  Value out = pb.allocate(l.getResult());
  pb.call(kind == QRT_INPUT_W8A8 ? "qrt_linear_w8a8" : "qrt_linear",
          {pb.ctxArg, pb.constI64(*slot), in, pb.nArg, out});
  return addBias(pb, l);
}

llvm::Error lowerMultiLinear(ProgramBuilder &pb, qnt::MultiLinearOp l) {
  if (auto err = multiLinear(pb, l.getInput(), l.getWeights(), l.getResults()))
    return err;
  for (auto [bias, result] : llvm::zip(l.getBiases(), l.getResults()))
    if (auto err = addBias(pb, bias, result))
      return err;
  return llvm::Error::success();
}

llvm::Error lowerSwigluLinear(ProgramBuilder &pb, qnt::SwigluLinearOp l) {
  auto gate = pb.slotOf(l.getGateWeight());
  if (!gate)
    return gate.takeError();
  auto up = pb.slotOf(l.getUpWeight());
  if (!up)
    return up.takeError();
  auto [in, kind] = linearInput(pb, l.getInput());
  Value tmp = pb.tempOf(l);
  Value out = pb.allocate(l.getResult());
  pb.call("qrt_linear_swiglu", {pb.ctxArg, pb.constI64(kind), pb.constI64(*gate),
                                pb.constI64(*up), in, pb.nArg, tmp, out});
  return llvm::Error::success();
}

llvm::Error lowerLmHead(ProgramBuilder &pb, qnt::LmHeadOp h) {
  auto slot = pb.slotOf(h.getWeight());
  if (!slot)
    return slot.takeError();
  Value in = pb.bufferOf(h.getInput());
  Value out = pb.allocate(h.getResult());
  pb.call("qrt_lm_head", {pb.ctxArg, pb.constI64(*slot), in, pb.nArg, out});
  return llvm::Error::success();
}

} // namespace

void addLinearLowerings(LoweringTable &table) {
  table.add<qnt::LinearOp>(lowerLinear);
  table.add<qnt::MultiLinearOp>(lowerMultiLinear);
  table.add<qnt::SwigluLinearOp>(lowerSwigluLinear);
  table.add<qnt::LmHeadOp>(lowerLmHead);
}

} // namespace qopt::cpu
