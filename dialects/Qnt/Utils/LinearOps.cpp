//===- LinearOps.cpp -------------------------------------------------------===//
#include "Qnt/Utils/LinearOps.h"


using namespace mlir;

namespace qopt::qnt {

SmallVector<Value, 3> weightsReading(Operation *op, Value input) {
  auto linear = dyn_cast<LinearFamilyOpInterface>(op);
  if (!linear || linear.getLinearInput() != input)
    return {};
  return linear.getLinearWeights();
}

bool isInt8Weight(Value weight, bool allowOutliers) {
  auto q = weight.getDefiningOp<QParamOp>();
  if (!q)
    return false;
  WeightQuantAttr s = q.getScheme();
  return s.getFormat() == WeightFormat::Int && s.getBits() == 8 &&
         (allowOutliers || s.getOutliers() == 0);
}

bool feedsOnlyInt8Linears(Value v, bool allowOutliers) {
  if (v.use_empty())
    return false;
  for (Operation *user : v.getUsers()) {
    SmallVector<Value, 3> weights = weightsReading(user, v);
    if (weights.empty() ||
        !llvm::all_of(weights, [&](Value w) { return isInt8Weight(w, allowOutliers); }))
      return false;
  }
  return true;
}

} // namespace qopt::qnt
