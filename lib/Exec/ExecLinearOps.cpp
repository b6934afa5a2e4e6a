//===- ExecLinearOps.cpp - the linear family and matmul in the executor ----===//
#include "ExecFrame.h"

#include "Qnt/IR/QntDialect.h"
#include "qopt/Exec/FastLinear.h"
#include "qopt/Exec/Kernels.h"

using namespace mlir;

namespace qopt::exec {

Act Frame::weightProduct(Value input, Value weight, Value bias) {
  const Act &x = in(input), &w = in(weight);
  SmallVector<int64_t, 2> shape(x.shape);
  shape.back() = w.shape[0];
  Act out = Act::withShape(shape);
  auto product = state.fastLinear ? kernels::fastLinear : kernels::linear;
  product(state.pool, x.data(), x.rows(), x.cols(), w.data(), w.shape[0],
          bias ? in(bias).data() : nullptr, out.storage.data());
  return out;
}

namespace {

llvm::Error runLinear(Frame &f, qnt::LinearOp l) {
  if (f.state.linearObserver) {
    const Act &x = f.in(l.getInput());
    if (f.state.linearObserver(l, x.data(), x.rows(), x.cols())) {
      f.stopped = true;
      return llvm::Error::success();
    }
  }
  f.values[l] = f.weightProduct(l.getInput(), l.getWeight(), l.getBias());
  return llvm::Error::success();
}

llvm::Error runLmHead(Frame &f, qnt::LmHeadOp l) {
  f.values[l] = f.weightProduct(l.getInput(), l.getWeight(), Value());
  return llvm::Error::success();
}

llvm::Error runMultiLinear(Frame &f, qnt::MultiLinearOp l) {
  auto biases = l.getBiases();
  for (auto [i, w, r] : llvm::enumerate(l.getWeights(), l.getResults()))
    f.values[r] = f.weightProduct(l.getInput(), w, biases.empty() ? Value() : biases[i]);
  return llvm::Error::success();
}

llvm::Error runSwigluLinear(Frame &f, qnt::SwigluLinearOp l) {
  Act gate = f.weightProduct(l.getInput(), l.getGateWeight(), Value());
  Act up = f.weightProduct(l.getInput(), l.getUpWeight(), Value());
  Act out = Act::withShape(gate.shape);
  kernels::swiglu(gate.data(), up.data(), out.numel(), out.storage.data());
  f.values[l] = std::move(out);
  return llvm::Error::success();
}

llvm::Error runMatMul(Frame &f, qnt::MatMulOp mm) {
  const Act &a = f.in(mm.getLhs()), &b = f.in(mm.getRhs());
  if (a.cols() != b.shape[0])
    return f.fail(mm, "contraction dimensions differ at run time");
  Act out = Act::withShape({a.shape[0], b.shape[1]});
  kernels::matmul(f.state.pool, a.data(), a.shape[0], a.cols(), b.data(), b.shape[1],
                  out.storage.data());
  f.values[mm] = std::move(out);
  return llvm::Error::success();
}

} // namespace

void addLinearExecs(ExecTable &table) {
  table.add<qnt::LinearOp>(runLinear);
  table.add<qnt::LmHeadOp>(runLmHead);
  table.add<qnt::MultiLinearOp>(runMultiLinear);
  table.add<qnt::SwigluLinearOp>(runSwigluLinear);
  table.add<qnt::MatMulOp>(runMatMul);
}

} // namespace qopt::exec
