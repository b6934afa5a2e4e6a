//===- ArenaPlan.cpp -------------------------------------------------------===//
#include "ArenaPlan.h"

#include "Qnt/IR/QntDialect.h"
#include "Qnt/Utils/LinearOps.h"
#include "qopt/Support/Error.h"

#include "mlir/Dialect/Quant/IR/Quant.h"

#include <map>

using namespace mlir;

namespace qopt::cpu {
namespace {

bool foldable(Operation *op) {
  if (auto dq = dyn_cast<qnt::DynamicQuantOp>(op))
    return dq.getBits() == 8 && qnt::feedsOnlyInt8Linears(dq, /*allowOutliers=*/true);
  if (auto qc = dyn_cast<quant::QuantizeCastOp>(op))
    return !qc->use_empty() &&
           llvm::all_of(qc->getUsers(), [](Operation *u) { return isa<quant::DequantizeCastOp>(u); });
  return false;
}

} // namespace

llvm::Expected<ArenaPlan> planArena(func::FuncOp forward, int64_t chunk) {
  ArenaPlan plan;
  Block &body = forward.getBody().front();
  llvm::DenseMap<Operation *, int64_t> index;
  int64_t i = 0;
  for (Operation &op : body) {
    index[&op] = i++;
    if (foldable(&op))
      plan.folded.insert(&op);
  }
  if (auto ret = dyn_cast<func::ReturnOp>(body.getTerminator()))
    if (ret.getNumOperands() == 1)
      plan.returned = ret.getOperand(0);

  // Last use, looking through folded ops to the ops that really read it.
  std::function<int64_t(Value)> lastUse = [&](Value v) -> int64_t {
    int64_t last = -1;
    for (Operation *user : v.getUsers())
      last = std::max(last, plan.folded.contains(user) ? lastUse(user->getResult(0))
                                                       : index.lookup(user));
    return last;
  };

  struct Live {
    int64_t offset, size, last;
  };
  std::vector<Live> live;
  std::multimap<int64_t, int64_t> freeBySize; // size -> offset
  for (Operation &op : body) {
    int64_t at = index[&op];
    // Release what died before this op.
    for (auto it = live.begin(); it != live.end();) {
      if (it->last < at) {
        freeBySize.emplace(it->size, it->offset);
        it = live.erase(it);
      } else {
        ++it;
      }
    }
    if (isa<qnt::ParamOp, qnt::QParamOp>(op) || plan.folded.contains(&op))
      continue;
    // A slice of `width` columns, live until op number `last`.
    auto place = [&](int64_t width, int64_t last) {
      int64_t size = chunk * width;
      size = (size + 15) / 16 * 16; // 64-byte aligned slices
      plan.unplannedFloats += size;
      auto fit = freeBySize.lower_bound(size);
      int64_t offset;
      if (fit != freeBySize.end()) {
        offset = fit->second;
        if (fit->first > size)
          freeBySize.emplace(fit->first - size, offset + size);
        freeBySize.erase(fit);
      } else {
        offset = plan.totalFloats;
        plan.totalFloats += size;
      }
      live.push_back({offset, size, last});
      return offset;
    };
    for (Value result : op.getResults()) {
      auto type = dyn_cast<RankedTensorType>(result.getType());
      if (!type || result == plan.returned)
        continue;
      if (type.getRank() != 2)
        return makeError("CPU target: '" + op.getName().getStringRef().str() +
                         "' produces a rank-" + std::to_string(type.getRank()) +
                         " tensor; activations must be [tokens, width]");
      plan.offsets[result] = place(type.getShape().back(), std::max(lastUse(result), at));
    }
    // The up projection's tiles of a fused SwiGLU live only inside the op.
    if (auto s = dyn_cast<qnt::SwigluLinearOp>(op))
      plan.temps[&op] = place(s.getType().getShape().back(), at);
  }
  return plan;
}

} // namespace qopt::cpu
