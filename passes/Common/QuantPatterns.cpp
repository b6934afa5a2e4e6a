//===- QuantPatterns.cpp ---------------------------------------------------===//
#include "passes/Common/QuantPatterns.h"

#include "qopt/Import/GraphBuilder.h"
#include "qopt/Support/Error.h"

#include "mlir/IR/Builders.h"

#include <Eigen/Dense>

#include <cmath>

using namespace mlir;

namespace qopt {

std::vector<TargetLinear> collectFloatLinears(ModuleOp module) {
  std::vector<TargetLinear> out;
  auto fn = module.lookupSymbol<func::FuncOp>(kForwardFunc);
  if (!fn || fn.isExternal())
    return out;
  fn.walk([&](qnt::LinearOp op) {
    auto param = op.getWeight().getDefiningOp<qnt::ParamOp>();
    if (!param)
      return;
    auto type = param.getType();
    out.push_back({op, param, param.getName().str(), type.getDimSize(0), type.getDimSize(1)});
  });
  return out;
}

llvm::Expected<ActivationMap> recordAtLinears(ModuleOp module,
                                              std::shared_ptr<ParameterStore> store,
                                              const CalibrationSet &calib,
                                              const std::vector<TargetLinear> &linears,
                                              const RecordOptions &options) {
  std::vector<Operation *> ops;
  for (const TargetLinear &l : linears)
    ops.push_back(qnt::LinearOp(l.op).getOperation());
  return recordActivations(module, std::move(store), calib, ops, options);
}

std::shared_ptr<ParameterStore> requireStore(ModuleOp module, llvm::StringRef pass) {
  auto store = module.getContext()->getOrLoadDialect<qnt::QntDialect>()->getParameterStore();
  if (!store)
    module.emitError() << pass << " needs the model's parameters (qopt-opt --params FILE)";
  return store;
}

std::shared_ptr<const CalibrationSet> requireCalibration(ModuleOp module, llvm::StringRef pass) {
  auto calib = module.getContext()->getOrLoadDialect<qnt::QntDialect>()->getCalibrationSet();
  if (!calib || calib->samples.empty()) {
    module.emitError() << pass << " needs calibration data (--calib FILE)";
    return nullptr;
  }
  return calib;
}

llvm::Expected<std::vector<float>> readWeight(const ParameterStore &store, llvm::StringRef name) {
  auto t = store.get(name);
  if (!t)
    return t.takeError();
  std::vector<float> w = (*t)->toFloats();
  for (float v : w)
    if (!std::isfinite(v))
      return makeError("parameter '" + name + "' contains NaN or Inf");
  return w;
}

void writeWeight(ParameterStore &store, qnt::ParamOp param, std::vector<float> values) {
  auto type = param.getType();
  std::vector<int64_t> shape(type.getShape().begin(), type.getShape().end());
  store.set(param.getName().str(), TensorView::fromFloats(std::move(shape), std::move(values)));
  param.getResult().setType(
      mlir::RankedTensorType::get(type.getShape(), mlir::Float32Type::get(param.getContext())));
}

qmath::Scheme schemeFor(qnt::LinearOp linear, const qmath::Scheme &fallback) {
  if (auto attr = linear->getAttrOfType<qnt::WeightQuantAttr>(kWeightSchemeAttr))
    return qmath::Scheme::fromAttr(attr);
  return fallback;
}

void replaceWithQuantized(TargetLinear &target, const qmath::QuantizedWeight &q,
                          ParameterStore &store, double relError) {
  storeQuantized(store, target.name, q);
  OpBuilder b(target.weight);
  auto type = RankedTensorType::get({q.rows, q.cols}, b.getF32Type());
  auto qparam = qnt::QParamOp::create(
      b, target.weight.getLoc(), type, b.getStringAttr(target.name),
      q.scheme.toAttr(b.getContext(), int64_t(q.outlierIndex.size())));
  qparam->setAttr(kRelErrorAttr, b.getF32FloatAttr(float(relError)));
  target.op.getWeightMutable().assign(qparam);
  target.op->removeAttr(kWeightSchemeAttr);
  if (target.weight->use_empty())
    target.weight->erase();
}

double relativeOutputError(const float *w, const float *q, int64_t rows, int64_t cols,
                           const std::vector<double> &h) {
  if (h.empty()) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < rows * cols; ++i) {
      num += double(w[i] - q[i]) * (w[i] - q[i]);
      den += double(w[i]) * w[i];
    }
    return den > 0 ? num / den : 0.0;
  }
  // trace(D H D^T) / trace(W H W^T) over (a sample of) the rows, as GEMMs.
  int64_t step = (rows + kOutputErrorRows - 1) / kOutputErrorRows;
  int64_t used = (rows + step - 1) / step;
  Eigen::MatrixXd wd(used, cols), dd(used, cols);
  for (int64_t i = 0; i < used; ++i)
    for (int64_t c = 0; c < cols; ++c) {
      int64_t at = i * step * cols + c;
      wd(i, c) = w[at];
      dd(i, c) = double(w[at]) - q[at];
    }
  Eigen::Map<const Eigen::MatrixXd> hm(h.data(), cols, cols); // symmetric
  double num = (dd * hm).cwiseProduct(dd).sum();
  double den = (wd * hm).cwiseProduct(wd).sum();
  return den > 0 ? num / den : 0.0;
}

std::string ScaleGroup::describe() const {
  std::string s;
  for (const TargetLinear &l : linears)
    s += (s.empty() ? "" : ",") + l.name;
  return s + " <- " + foldName;
}

namespace {

/// True when `param`'s tensor is read by this op only (so rescaling it in
/// the store changes nothing else).
bool usedOnlyHere(qnt::ParamOp param) {
  if (!param || !param->hasOneUse())
    return false;
  auto fn = param->getParentOfType<func::FuncOp>();
  int count = 0;
  fn.walk([&](qnt::ParamOp other) { count += other.getName() == param.getName(); });
  return count == 1;
}

/// The float linear producing `v` whose only user is `user`, if any.
qnt::LinearOp soleLinearProducer(Value v, Operation *user) {
  auto producer = v.getDefiningOp<qnt::LinearOp>();
  if (!producer || !v.hasOneUse() || *v.getUsers().begin() != user || producer.getBias())
    return nullptr;
  auto w = producer.getWeight().getDefiningOp<qnt::ParamOp>();
  return usedOnlyHere(w) ? producer : nullptr;
}

} // namespace

std::vector<ScaleGroup> findScaleGroups(const std::vector<TargetLinear> &linears) {
  std::vector<ScaleGroup> groups;
  llvm::DenseMap<Value, size_t> byInput;
  for (const TargetLinear &l : linears) {
    Value input = qnt::LinearOp(l.op).getInput();
    auto [it, inserted] = byInput.try_emplace(input, groups.size());
    if (inserted) {
      ScaleGroup g;
      g.input = input;
      g.channels = l.cols;
      groups.push_back(g);
    }
    groups[it->second].linears.push_back(l);
  }
  std::vector<ScaleGroup> foldable;
  for (ScaleGroup &g : groups) {
    // Every user of the input must be one of the group's linears (with no
    // bias: a scaled column would need its bias untouched, which holds, but
    // keep the rule simple) or the scale would leak.
    size_t users = 0;
    for (Operation *u : g.input.getUsers()) {
      (void)u;
      ++users;
    }
    if (users != g.linears.size())
      continue;
    Operation *producer = g.input.getDefiningOp();
    if (auto norm = dyn_cast_or_null<qnt::RmsNormOp>(producer)) {
      auto w = norm.getWeight().getDefiningOp<qnt::ParamOp>();
      if (!usedOnlyHere(w))
        continue;
      g.fold = ScaleGroup::Fold::NormWeight;
      g.foldParam = w;
    } else if (auto swiglu = dyn_cast_or_null<qnt::SwigluOp>(producer)) {
      qnt::LinearOp up = soleLinearProducer(swiglu.getUp(), swiglu);
      if (!up || swiglu.getGate() == swiglu.getUp())
        continue;
      g.fold = ScaleGroup::Fold::ProducerRows;
      g.foldParam = up.getWeight().getDefiningOp<qnt::ParamOp>();
    } else if (auto attn = dyn_cast_or_null<qnt::AttentionOp>(producer)) {
      // With grouped KV heads one V channel feeds several output channels,
      // which would need equal scales; such groups are left alone.
      if (attn.getNumHeads() != attn.getNumKvHeads())
        continue;
      qnt::LinearOp v = soleLinearProducer(attn.getV(), attn);
      if (!v)
        continue;
      g.fold = ScaleGroup::Fold::ProducerRows;
      g.foldParam = v.getWeight().getDefiningOp<qnt::ParamOp>();
    } else {
      continue;
    }
    g.foldName = g.foldParam.getName().str();
    auto shape = g.foldParam.getType().getShape();
    g.foldShape.assign(shape.begin(), shape.end());
    foldable.push_back(std::move(g));
  }
  return foldable;
}

llvm::Error applyInputScales(const ScaleGroup &group, llvm::ArrayRef<double> s,
                             ParameterStore &store) {
  const std::string &foldName = group.foldName;
  auto fold = readWeight(store, foldName);
  if (!fold)
    return fold.takeError();
  const std::vector<int64_t> &foldShape = group.foldShape;
  std::vector<float> &f = *fold;
  int64_t width = group.fold == ScaleGroup::Fold::NormWeight ? 1 : foldShape.back();
  for (int64_t c = 0; c < group.channels; ++c)
    for (int64_t j = 0; j < width; ++j)
      f[c * width + j] = float(f[c * width + j] / s[c]);
  writeWeight(store, group.foldParam, std::move(f));
  for (const TargetLinear &l : group.linears) {
    auto w = readWeight(store, l.name);
    if (!w)
      return w.takeError();
    for (int64_t r = 0; r < l.rows; ++r)
      for (int64_t c = 0; c < l.cols; ++c)
        (*w)[r * l.cols + c] = float((*w)[r * l.cols + c] * s[c]);
    writeWeight(store, l.weight, std::move(*w));
  }
  return llvm::Error::success();
}

llvm::Expected<qmath::Scheme> parseScheme(llvm::StringRef format, int64_t bits, int64_t groupSize,
                                          bool symmetric, bool doubleQuant) {
  qmath::Scheme s;
  if (format == "int")
    s.format = qnt::WeightFormat::Int;
  else if (format == "nf4")
    s.format = qnt::WeightFormat::NF4;
  else
    return makeError("format must be 'int' or 'nf4', got '" + format + "'");
  s.bits = s.format == qnt::WeightFormat::NF4 ? 4 : bits;
  s.groupSize = groupSize;
  s.symmetric = symmetric;
  s.doubleQuant = doubleQuant;
  std::string why = s.validate();
  if (!why.empty())
    return makeError(why);
  return s;
}

} // namespace qopt
