//===- Executor.cpp - interpret qnt IR -------------------------------------===//
#include "qopt/Exec/Executor.h"
#include "ExecFrame.h"
#include "ParamCache.h"

#include "Qnt/IR/QntDialect.h"
#include "qopt/Exec/Kernels.h"
#include "qopt/Import/GraphBuilder.h"
#include "qopt/Support/DType.h"
#include "qopt/Support/Error.h"
#include "qopt/Support/ParamTypes.h"

#include "Qnt/Utils/QuantScheme.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Quant/IR/Quant.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"

#include <cmath>

using namespace mlir;

namespace qopt {

namespace {

std::string describe(Operation *op) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << op->getName() << " at " << op->getLoc();
  return s;
}

} // namespace

Executor::Executor(func::FuncOp fn, std::shared_ptr<ParameterStore> store,
                   ExecOptions options)
    : entry(fn), store(std::move(store)), pool(options.threads),
      fastLinear(options.fastLinear),
      params(std::make_unique<exec::ParamCache>(options.widenBudgetBytes)) {}

Executor::~Executor() = default;

llvm::Expected<std::unique_ptr<Executor>>
Executor::create(ModuleOp module, std::shared_ptr<ParameterStore> store,
                 ExecOptions options) {
  auto fn = module.lookupSymbol<func::FuncOp>(kForwardFunc);
  if (!fn || fn.isExternal())
    return makeError(llvm::Twine("module has no '") + kForwardFunc + "' function");
  FunctionType type = fn.getFunctionType();
  auto tokens = type.getNumInputs() == 3
                    ? dyn_cast<RankedTensorType>(type.getInput(0))
                    : RankedTensorType();
  auto cache = type.getNumInputs() == 3 ? dyn_cast<qnt::KVCacheType>(type.getInput(2))
                                        : qnt::KVCacheType();
  auto logits = type.getNumResults() == 1
                    ? dyn_cast<RankedTensorType>(type.getResult(0))
                    : RankedTensorType();
  if (!tokens || tokens.getRank() != 1 || !tokens.getElementType().isInteger(32) ||
      !type.getInput(1).isIndex() || !cache || !logits || logits.getRank() != 2 ||
      ShapedType::isDynamic(logits.getDimSize(1)))
    return makeError(llvm::Twine("'") + kForwardFunc +
                     "' must have type (tensor<?xi32>, index, !qnt.kv_cache<...>) -> "
                     "tensor<?xVOCABxf32>");
  if (!store)
    return makeError("no parameter store was given to the executor");
  std::unique_ptr<Executor> exec(new Executor(fn, std::move(store), options));
  exec->vocab = logits.getDimSize(1);
  exec->maxSeq = options.maxSeqLen > 0 ? std::min(options.maxSeqLen, cache.getMaxSeqLen())
                                       : cache.getMaxSeqLen();
  exec->cacheLayers = cache.getLayers();
  exec->cacheRowWidth = cache.getKvHeads() * cache.getHeadDim();
  size_t cacheFloats = size_t(exec->cacheLayers) * exec->maxSeq * exec->cacheRowWidth;
  exec->cacheKeys.assign(cacheFloats, 0.0f);
  exec->cacheValues.assign(cacheFloats, 0.0f);
  if (llvm::Error err = exec->resolveParameters())
    return std::move(err);
  exec->computeLastUses();
  return exec;
}

llvm::Error Executor::resolveParameters() {
  llvm::Error result = llvm::Error::success();
  entry->walk([&](qnt::ParamOp op) {
    if (result)
      return;
    auto view = store->get(op.getName());
    if (!view) {
      result = view.takeError();
      return;
    }
    const TensorView &t = **view;
    std::string mismatch = describeParamMismatch(op.getName(), op.getType(), t);
    if (!mismatch.empty()) {
      result = makeError(mismatch);
      return;
    }
    bool aligned = reinterpret_cast<uintptr_t>(t.data) % alignof(float) == 0;
    if (t.dtype == DType::F32 && aligned)
      params->addInPlace(op, reinterpret_cast<const float *>(t.data));
    else
      params->addWidened(op, &t);
  });
  // Quantized weights run as their dequantized values (fake quant), decoded
  // exactly as the packed kernels decode them.
  entry->walk([&](qnt::QParamOp op) {
    if (result)
      return;
    auto shape = op.getType().getShape();
    auto q = qmath::loadQuantized(*store, op.getName(), qmath::Scheme::fromAttr(op.getScheme()),
                                  shape[0], shape[1], op.getScheme().getOutliers());
    if (!q) {
      result = q.takeError();
      return;
    }
    params->addMade(op, q->dequantize());
  });
  return result;
}

void Executor::overrideParameter(Operation *param, const float *data) {
  params->override(param, data);
}

void Executor::resetCache() {
  std::fill(cacheKeys.begin(), cacheKeys.end(), 0.0f);
  std::fill(cacheValues.begin(), cacheValues.end(), 0.0f);
}

void Executor::computeLastUses() {
  Block &body = cast<func::FuncOp>(entry).getBody().front();
  llvm::DenseMap<Value, Operation *> last;
  for (Operation &op : body)
    for (Value operand : op.getOperands())
      last[operand] = &op;
  for (auto &[value, op] : last)
    lastUses[op].push_back(value);
}

llvm::Error exec::Frame::fail(Operation *op, const llvm::Twine &why) const {
  return makeError(describe(op) + ": " + why);
}

llvm::SmallVector<Operation *, 8> exec::Frame::viewedParams() const {
  llvm::SmallVector<Operation *, 8> ops;
  for (const auto &[value, act] : values)
    if (act.view)
      if (Operation *def = value.getDefiningOp())
        if (state.params.contains(def))
          ops.push_back(def);
  return ops;
}

/// Every op the executor runs, family by family (lib/Exec/Exec*Ops.cpp).
static const exec::ExecTable &execTable() {
  static const exec::ExecTable table = [] {
    exec::ExecTable t;
    exec::addQuantExecs(t);
    exec::addNormExecs(t);
    exec::addLinearExecs(t);
    exec::addAttentionExecs(t);
    exec::addElementwiseExecs(t);
    return t;
  }();
  return table;
}

llvm::Error Executor::checkTokens(llvm::ArrayRef<int32_t> tokens, int64_t pos) const {
  int64_t n = int64_t(tokens.size());
  if (n == 0)
    return makeError("forward needs at least one token");
  if (pos < 0 || pos + n > maxSeq)
    return makeError("positions " + llvm::Twine(pos) + ".." + llvm::Twine(pos + n - 1) +
                     " exceed the model's context of " + llvm::Twine(maxSeq) + " tokens");
  for (int32_t t : tokens)
    if (t < 0 || t >= vocab)
      return makeError("token id " + llvm::Twine(t) + " is outside the vocabulary of " +
                       llvm::Twine(vocab));
  return llvm::Error::success();
}

/// A forward in progress: its frame and the next op to run (null at the end).
struct Executor::Cursor {
  exec::Frame frame;
  Operation *next;
  std::optional<std::vector<float>> logits; // set when the return was reached
};

void Executor::CursorDeleter::operator()(Cursor *c) const { delete c; }

llvm::Expected<Executor::CursorPtr> Executor::beginForward(llvm::ArrayRef<int32_t> tokens) {
  if (llvm::Error err = checkTokens(tokens, 0))
    return std::move(err);
  Block &body = cast<func::FuncOp>(entry).getBody().front();
  exec::Frame frame({pool, *params, cacheKeys.data(), cacheValues.data(), maxSeq,
                     cacheRowWidth, linearObserver, fastLinear},
                    tokens, 0, body.getArgument(0));
  return CursorPtr(new Cursor{std::move(frame), &body.front(), std::nullopt});
}

llvm::Error Executor::runUntil(Cursor &cursor, Operation *stop) {
  exec::Frame &frame = cursor.frame;
  // A parameter the cursor viewed before it paused may have been overridden
  // since (true-sequential GPTQ hands over each step's dequantized weights
  // while the samples wait in front of its first linear).
  // (Or dropped from the widening budget while other samples ran.)
  llvm::SmallVector<Operation *, 8> viewed = frame.viewedParams();
  for (auto &[value, act] : frame.values)
    if (Operation *def = act.view ? value.getDefiningOp() : nullptr)
      if (params->contains(def))
        act.view = params->get(def, viewed);
  const exec::ExecTable &table = execTable();
  while (Operation *op = cursor.next) {
    if (op == stop)
      return llvm::Error::success();
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      const exec::Act &result = frame.in(ret.getOperand(0));
      cursor.logits.emplace(result.data(), result.data() + result.numel());
      cursor.next = nullptr;
      frame.values.clear();
      return llvm::Error::success();
    }
    const exec::ExecTable::Handler *run = table.find(op);
    if (!run)
      return frame.fail(op, "the executor does not support this op");
    if (llvm::Error err = (*run)(frame, op))
      return std::move(err);
    if (frame.stopped) {
      cursor.next = nullptr;
      return llvm::Error::success();
    }
    for (Value dead : lastUses.lookup(op))
      frame.values.erase(dead);
    cursor.next = op->getNextNode();
  }
  return llvm::Error::success();
}

const float *Executor::valueAt(const Cursor &cursor, Value v, int64_t &rows,
                               int64_t &cols) const {
  auto it = cursor.frame.values.find(v);
  if (it == cursor.frame.values.end())
    return nullptr;
  rows = it->second.rows();
  cols = it->second.cols();
  return it->second.data();
}

void Executor::forgetParameter(Operation *param) {
  params->forget(param);
}

llvm::Expected<std::vector<float>> Executor::forward(llvm::ArrayRef<int32_t> tokens,
                                                    int64_t pos) {
  if (llvm::Error err = checkTokens(tokens, pos))
    return std::move(err);
  Block &body = cast<func::FuncOp>(entry).getBody().front();
  exec::Frame frame({pool, *params, cacheKeys.data(), cacheValues.data(), maxSeq,
                     cacheRowWidth, linearObserver, fastLinear},
                    tokens, pos, body.getArgument(0));
  Cursor cursor{std::move(frame), &body.front(), std::nullopt};
  if (llvm::Error err = runUntil(cursor, nullptr))
    return std::move(err);
  return cursor.logits ? std::move(*cursor.logits) : std::vector<float>();
}

} // namespace qopt
