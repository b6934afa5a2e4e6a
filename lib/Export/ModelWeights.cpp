//===- ModelWeights.cpp - what a qnt module reads, for the exporters ------===//
#include "qopt/Export/ModelWeights.h"

#include "qopt/Import/ModelConfig.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/StringSet.h"

#include <cstring>

namespace qopt {

namespace {

/// Ops of the Llama graph, which llama.cpp and transformers build; any other
/// op means the module computes something their formats cannot describe.
bool isLlamaGraphOp(mlir::Operation *op) {
  return llvm::isa<mlir::ModuleOp, mlir::func::FuncOp, mlir::func::ReturnOp, qnt::ParamOp,
                   qnt::QParamOp, qnt::EmbeddingOp, qnt::RmsNormOp, qnt::AddRmsNormOp,
                   qnt::LinearOp, qnt::MultiLinearOp, qnt::SwigluLinearOp, qnt::LmHeadOp,
                   qnt::RopeOp, qnt::AttentionOp, qnt::SwigluOp, qnt::AddOp>(op);
}

bool quantizesActivations(mlir::Operation *op) {
  if (llvm::isa<qnt::DynamicQuantOp>(op))
    return true;
  if (auto n = llvm::dyn_cast<qnt::RmsNormOp>(op))
    return n.getQuantBits().has_value();
  if (auto n = llvm::dyn_cast<qnt::AddRmsNormOp>(op))
    return n.getQuantBits().has_value();
  return false;
}

} // namespace

ModelWeights collectWeights(mlir::ModuleOp module) {
  ModelWeights m;
  llvm::StringSet<> seen;
  module->walk([&](mlir::Operation *op) {
    if (quantizesActivations(op)) {
      m.quantizesActivations = true;
      return;
    }
    if (!isLlamaGraphOp(op) && m.foreignOp.empty())
      m.foreignOp = op->getName().getStringRef().str();
    WeightUse u;
    if (auto p = llvm::dyn_cast<qnt::ParamOp>(op)) {
      u.name = p.getName().str();
      u.shape.assign(p.getType().getShape().begin(), p.getType().getShape().end());
    } else if (auto q = llvm::dyn_cast<qnt::QParamOp>(op)) {
      u.name = q.getName().str();
      u.shape.assign(q.getType().getShape().begin(), q.getType().getShape().end());
      u.quantized = true;
      u.scheme = q.getScheme();
      bool feedsHead = llvm::any_of(op->getUsers(), [](mlir::Operation *user) {
        return llvm::isa<qnt::LmHeadOp>(user);
      });
      u.tiedQuantizedClassifier = feedsHead && u.name == param::tokEmbeddings();
    } else {
      return;
    }
    if (seen.insert(u.name + (u.quantized ? "#q" : "")).second)
      m.uses.push_back(std::move(u));
  });
  return m;
}

std::vector<uint8_t> permuteRows(const std::vector<uint8_t> &bytes, int64_t rows,
                                 const std::vector<int64_t> &from) {
  size_t rowBytes = bytes.size() / size_t(rows);
  std::vector<uint8_t> out(bytes.size());
  for (int64_t r = 0; r < rows; ++r)
    std::memcpy(&out[size_t(r) * rowBytes], &bytes[size_t(from[size_t(r)]) * rowBytes],
                rowBytes);
  return out;
}

std::vector<int64_t> ropeRowsToInterleaved(int64_t rows, int64_t heads) {
  int64_t hd = rows / heads;
  std::vector<int64_t> from(static_cast<size_t>(rows));
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < hd / 2; ++i)
      for (int64_t j = 0; j < 2; ++j)
        from[size_t(h * hd + 2 * i + j)] = h * hd + j * hd / 2 + i;
  return from;
}

std::vector<int64_t> ropeRowsToRotateHalf(int64_t rows, int64_t heads) {
  std::vector<int64_t> to = ropeRowsToInterleaved(rows, heads), from(to.size());
  for (size_t r = 0; r < to.size(); ++r)
    from[size_t(to[r])] = int64_t(r);
  return from;
}

} // namespace qopt
