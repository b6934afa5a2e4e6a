//===- ExecElementwiseOps.cpp - activations and residual ops in the executor ===//
#include "ExecFrame.h"

#include "Qnt/IR/QntDialect.h"
#include "qopt/Exec/Kernels.h"

using namespace mlir;

namespace qopt::exec {

void Frame::elementwise(Operation *op, std::initializer_list<Value> operands,
                        llvm::function_ref<void(const float *const *, int64_t, float *)> fn) {
  SmallVector<const float *, 2> inputs;
  for (Value v : operands)
    inputs.push_back(in(v).data());
  Act out = Act::withShape(in(*operands.begin()).shape);
  fn(inputs.data(), out.numel(), out.storage.data());
  values[op->getResult(0)] = std::move(out);
}

namespace {

llvm::Error runSilu(Frame &f, qnt::SiluOp s) {
  f.elementwise(s, {s.getInput()}, [](const float *const *in, int64_t count, float *out) {
    kernels::silu(in[0], count, out);
  });
  return llvm::Error::success();
}

llvm::Error runGelu(Frame &f, qnt::GeluOp g) {
  bool approx = g.getApproximateTanh();
  f.elementwise(g, {g.getInput()}, [approx](const float *const *in, int64_t count, float *out) {
    kernels::gelu(in[0], count, approx, out);
  });
  return llvm::Error::success();
}

llvm::Error runSwiglu(Frame &f, qnt::SwigluOp s) {
  f.elementwise(s, {s.getGate(), s.getUp()},
                [](const float *const *in, int64_t count, float *out) {
                  kernels::swiglu(in[0], in[1], count, out);
                });
  return llvm::Error::success();
}

llvm::Error runAdd(Frame &f, qnt::AddOp a) {
  f.elementwise(a, {a.getLhs(), a.getRhs()},
                [](const float *const *in, int64_t count, float *out) {
                  kernels::add(in[0], in[1], count, out);
                });
  return llvm::Error::success();
}

llvm::Error runMul(Frame &f, qnt::MulOp m) {
  f.elementwise(m, {m.getLhs(), m.getRhs()},
                [](const float *const *in, int64_t count, float *out) {
                  kernels::mul(in[0], in[1], count, out);
                });
  return llvm::Error::success();
}

} // namespace

void addElementwiseExecs(ExecTable &table) {
  table.add<qnt::SiluOp>(runSilu);
  table.add<qnt::GeluOp>(runGelu);
  table.add<qnt::SwigluOp>(runSwiglu);
  table.add<qnt::AddOp>(runAdd);
  table.add<qnt::MulOp>(runMul);
}

} // namespace qopt::exec
