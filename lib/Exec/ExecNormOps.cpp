//===- ExecNormOps.cpp - embedding and RMS norms in the executor -----------===//
#include "ExecFrame.h"

#include "Qnt/IR/QntDialect.h"
#include "qopt/Exec/Kernels.h"

#include <algorithm>

using namespace mlir;

namespace qopt::exec {
namespace {

/// rms_norm, then (fused norm + activation quantization) per-token
/// fake-quant exactly as a following qnt.dynamic_quant would do it.
Act normalize(const Act &x, const Act &weight, float eps, std::optional<uint64_t> quantBits) {
  Act out = Act::withShape(x.shape);
  kernels::rmsNorm(x.data(), x.rows(), x.cols(), weight.data(), eps, out.storage.data());
  if (quantBits) {
    SmallVector<bool> keep(x.cols(), false);
    kernels::dynamicQuantRows(out.storage.data(), x.rows(), x.cols(), int64_t(*quantBits), keep,
                              out.storage.data());
  }
  return out;
}

llvm::Error runEmbedding(Frame &f, qnt::EmbeddingOp e) {
  if (e.getTokens() != f.tokenArg)
    return f.fail(e, "embedding tokens must be the entry's token argument");
  const Act &table = f.in(e.getTable());
  int64_t dim = table.cols();
  Act out = Act::withShape({f.n, dim});
  for (int64_t i = 0; i < f.n; ++i)
    std::copy(table.data() + f.tokens[i] * dim, table.data() + (f.tokens[i] + 1) * dim,
              out.storage.data() + i * dim);
  f.values[e] = std::move(out);
  return llvm::Error::success();
}

llvm::Error runRmsNorm(Frame &f, qnt::RmsNormOp r) {
  f.values[r] = normalize(f.in(r.getInput()), f.in(r.getWeight()), r.getEps().convertToFloat(),
                          r.getQuantBits());
  return llvm::Error::success();
}

llvm::Error runAddRmsNorm(Frame &f, qnt::AddRmsNormOp r) {
  const Act &a = f.in(r.getLhs()), &b = f.in(r.getRhs());
  Act sum = Act::withShape(a.shape);
  kernels::add(a.data(), b.data(), sum.numel(), sum.storage.data());
  f.values[r.getResult()] =
      normalize(sum, f.in(r.getWeight()), r.getEps().convertToFloat(), r.getQuantBits());
  f.values[r.getSum()] = std::move(sum);
  return llvm::Error::success();
}

} // namespace

void addNormExecs(ExecTable &table) {
  table.add<qnt::EmbeddingOp>(runEmbedding);
  table.add<qnt::RmsNormOp>(runRmsNorm);
  table.add<qnt::AddRmsNormOp>(runAddRmsNorm);
}

} // namespace qopt::exec
