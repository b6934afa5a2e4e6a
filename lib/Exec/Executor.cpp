//===- Executor.cpp - interpret qnt IR -------------------------------------===//
#include "qopt/Exec/Executor.h"

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
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;

namespace qopt {

namespace {

/// A run-time activation: its shape and f32 data, or a view of a parameter.
struct Act {
  SmallVector<int64_t, 2> shape;
  std::vector<float> storage;
  const float *view = nullptr;

  const float *data() const { return view ? view : storage.data(); }
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    return n;
  }
  int64_t rows() const { return shape.empty() ? 1 : numel() / shape.back(); }
  int64_t cols() const { return shape.empty() ? 1 : shape.back(); }

  static Act withShape(ArrayRef<int64_t> shape) {
    Act a;
    a.shape.assign(shape.begin(), shape.end());
    a.storage.resize(a.numel());
    return a;
  }
};

/// The per-tensor !quant.uniform element type of an activation, or null.
mlir::quant::UniformQuantizedType perTensorUniform(Value v) {
  return dyn_cast<mlir::quant::UniformQuantizedType>(getElementTypeOrSelf(v.getType()));
}
constexpr const char *kPerTensorOnly =
    "only per-tensor !quant.uniform activations are supported";

std::string describe(Operation *op) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << op->getName() << " at " << op->getLoc();
  return s;
}

} // namespace

Executor::Executor(func::FuncOp fn, std::shared_ptr<ParameterStore> store,
                   ExecOptions options)
    : entry(fn), store(std::move(store)), pool(options.threads) {}

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
  exec->maxSeq = cache.getMaxSeqLen();
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
    if (t.dtype == DType::F32 && aligned) {
      paramData[op] = reinterpret_cast<const float *>(t.data);
    } else {
      widened.push_back(std::make_unique<std::vector<float>>(t.toFloats()));
      paramData[op] = widened.back()->data();
    }
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
    widened.push_back(std::make_unique<std::vector<float>>(q->dequantize()));
    paramData[op] = widened.back()->data();
  });
  return result;
}

void Executor::overrideParameter(Operation *param, const float *data) {
  if (!data) {
    auto it = overridden.find(param);
    if (it != overridden.end()) {
      paramData[param] = it->second;
      overridden.erase(it);
    }
    return;
  }
  if (!overridden.count(param))
    overridden[param] = paramData.lookup(param);
  paramData[param] = data;
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

llvm::Expected<std::vector<float>> Executor::forward(llvm::ArrayRef<int32_t> tokens,
                                                    int64_t pos) {
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

  auto fn = cast<func::FuncOp>(entry);
  Block &body = fn.getBody().front();
  Value tokenArg = body.getArgument(0);
  llvm::DenseMap<Value, Act> values;
  auto in = [&](Value v) -> const Act & { return values.find(v)->second; };
  // linear and lm_head: x [..., K] times W [N, K]^T (+ bias) -> [..., N].
  auto weightProduct = [&](Value input, Value weight, Value bias) {
    const Act &x = in(input), &w = in(weight);
    SmallVector<int64_t, 2> shape(x.shape);
    shape.back() = w.shape[0];
    Act out = Act::withShape(shape);
    kernels::linear(pool, x.data(), x.rows(), x.cols(), w.data(), w.shape[0],
                    bias ? in(bias).data() : nullptr, out.storage.data());
    return out;
  };
  // rms_norm, then (fused norm + activation quantization) per-token
  // fake-quant exactly as a following qnt.dynamic_quant would do it.
  auto normalize = [](const Act &x, const Act &weight, float eps,
                      std::optional<uint64_t> quantBits) {
    Act out = Act::withShape(x.shape);
    kernels::rmsNorm(x.data(), x.rows(), x.cols(), weight.data(), eps, out.storage.data());
    if (quantBits) {
      SmallVector<bool> keep(x.cols(), false);
      kernels::dynamicQuantRows(out.storage.data(), x.rows(), x.cols(), int64_t(*quantBits),
                                keep, out.storage.data());
    }
    return out;
  };
  // Elementwise ops: the result has the first operand's shape (the verifier
  // guarantees all operands share it).
  auto elementwise = [&](Operation *op, std::initializer_list<Value> operands,
                         llvm::function_ref<void(const float *const *, int64_t, float *)> fn) {
    SmallVector<const float *, 2> inputs;
    for (Value v : operands)
      inputs.push_back(in(v).data());
    Act out = Act::withShape(in(*operands.begin()).shape);
    fn(inputs.data(), out.numel(), out.storage.data());
    values[op->getResult(0)] = std::move(out);
  };

  llvm::Error failure = llvm::Error::success();
  bool stopped = false;
  std::vector<float> logits;
  for (Operation &opRef : body) {
    Operation *op = &opRef;
    auto fail = [&](const llvm::Twine &why) {
      failure = makeError(describe(op) + ": " + why);
    };
    llvm::TypeSwitch<Operation *>(op)
        .Case([&](qnt::ParamOp p) {
          Act a;
          a.shape.assign(p.getType().getShape().begin(), p.getType().getShape().end());
          a.view = paramData.lookup(p);
          values[p] = std::move(a);
        })
        .Case([&](qnt::QParamOp p) {
          Act a;
          a.shape.assign(p.getType().getShape().begin(), p.getType().getShape().end());
          a.view = paramData.lookup(p);
          values[p] = std::move(a);
        })
        .Case([&](mlir::quant::QuantizeCastOp qc) {
          // Codes are held as exact small integers in f32.
          auto type = perTensorUniform(qc.getResult());
          if (!type)
            return fail(kPerTensorOnly);
          const Act &x = in(qc.getInput());
          Act out = Act::withShape(x.shape);
          float scale = float(type.getScale()), zero = float(type.getZeroPoint());
          float lo = float(type.getStorageTypeMin()), hi = float(type.getStorageTypeMax());
          const float *src = x.data();
          for (int64_t i = 0; i < out.numel(); ++i)
            out.storage[i] = std::clamp(std::nearbyint(src[i] / scale) + zero, lo, hi);
          values[qc] = std::move(out);
        })
        .Case([&](mlir::quant::DequantizeCastOp dc) {
          auto type = perTensorUniform(dc.getInput());
          if (!type)
            return fail(kPerTensorOnly);
          const Act &x = in(dc.getInput());
          Act out = Act::withShape(x.shape);
          float scale = float(type.getScale()), zero = float(type.getZeroPoint());
          const float *src = x.data();
          for (int64_t i = 0; i < out.numel(); ++i)
            out.storage[i] = (src[i] - zero) * scale;
          values[dc] = std::move(out);
        })
        .Case([&](qnt::DynamicQuantOp dq) {
          const Act &x = in(dq.getInput());
          Act out = Act::withShape(x.shape);
          SmallVector<bool> keep(x.cols(), false);
          if (auto channels = dq.getKeepChannels())
            for (int64_t c : *channels)
              keep[c] = true;
          kernels::dynamicQuantRows(x.data(), x.rows(), x.cols(), dq.getBits(), keep,
                                    out.storage.data());
          values[dq] = std::move(out);
        })
        .Case([&](qnt::EmbeddingOp e) {
          if (e.getTokens() != tokenArg)
            return fail("embedding tokens must be the entry's token argument");
          const Act &table = in(e.getTable());
          int64_t dim = table.cols();
          Act out = Act::withShape({n, dim});
          for (int64_t i = 0; i < n; ++i)
            std::copy(table.data() + tokens[i] * dim, table.data() + (tokens[i] + 1) * dim,
                      out.storage.data() + i * dim);
          values[e] = std::move(out);
        })
        .Case([&](qnt::RmsNormOp r) {
          values[r] = normalize(in(r.getInput()), in(r.getWeight()),
                                r.getEps().convertToFloat(), r.getQuantBits());
        })
        .Case([&](qnt::AddRmsNormOp r) {
          const Act &a = in(r.getLhs()), &b = in(r.getRhs());
          Act sum = Act::withShape(a.shape);
          kernels::add(a.data(), b.data(), sum.numel(), sum.storage.data());
          values[r.getResult()] = normalize(sum, in(r.getWeight()),
                                            r.getEps().convertToFloat(), r.getQuantBits());
          values[r.getSum()] = std::move(sum);
        })
        .Case([&](qnt::LinearOp l) {
          if (linearObserver) {
            const Act &x = in(l.getInput());
            if (linearObserver(l, x.data(), x.rows(), x.cols())) {
              stopped = true;
              return;
            }
          }
          values[l] = weightProduct(l.getInput(), l.getWeight(), l.getBias());
        })
        .Case([&](qnt::LmHeadOp l) {
          values[l] = weightProduct(l.getInput(), l.getWeight(), Value());
        })
        .Case([&](qnt::MultiLinearOp l) {
          for (auto [w, r] : llvm::zip(l.getWeights(), l.getResults()))
            values[r] = weightProduct(l.getInput(), w, Value());
        })
        .Case([&](qnt::SwigluLinearOp l) {
          Act gate = weightProduct(l.getInput(), l.getGateWeight(), Value());
          Act up = weightProduct(l.getInput(), l.getUpWeight(), Value());
          Act out = Act::withShape(gate.shape);
          kernels::swiglu(gate.data(), up.data(), out.numel(), out.storage.data());
          values[l] = std::move(out);
        })
        .Case([&](qnt::MatMulOp mm) {
          const Act &a = in(mm.getLhs()), &b = in(mm.getRhs());
          if (a.cols() != b.shape[0])
            return fail("contraction dimensions differ at run time");
          Act out = Act::withShape({a.shape[0], b.shape[1]});
          kernels::matmul(pool, a.data(), a.shape[0], a.cols(), b.data(), b.shape[1],
                          out.storage.data());
          values[mm] = std::move(out);
        })
        .Case([&](qnt::RopeOp r) {
          const Act &x = in(r.getInput());
          Act out = Act::withShape(x.shape);
          kernels::rope(x.data(), x.rows(), x.cols(), r.getHeadDim(), pos,
                        r.getTheta().convertToFloat(),
                        r.getStyle() == qnt::RopeStyle::Interleaved, out.storage.data());
          values[r] = std::move(out);
        })
        .Case([&](qnt::AttentionOp a) {
          const Act &q = in(a.getQ()), &k = in(a.getK()), &v = in(a.getV());
          if (q.rows() != n || k.rows() != n || v.rows() != n)
            return fail("q, k and v must have one row per token");
          int64_t headDim = a.getHeadDim();
          float scale = a.getScale() ? a.getScale()->convertToFloat()
                                     : 1.0f / std::sqrt(float(headDim));
          size_t layerOffset = size_t(a.getLayer()) * maxSeq * cacheRowWidth;
          kernels::KVSlice slice{cacheKeys.data() + layerOffset,
                                 cacheValues.data() + layerOffset, maxSeq};
          Act out = Act::withShape({n, int64_t(a.getNumHeads()) * headDim});
          // An f16 cache holds K and V rounded to half precision (nearest even).
          std::vector<float> k16, v16;
          const float *kData = k.data(), *vData = v.data();
          if (a.getCache().getType().getElementType().isF16()) {
            auto toHalf = [](const Act &x, std::vector<float> &r) {
              r.resize(size_t(x.numel()));
              for (int64_t i = 0; i < x.numel(); ++i)
                r[size_t(i)] = halfToFloat(floatToHalf(x.data()[i]));
              return r.data();
            };
            kData = toHalf(k, k16);
            vData = toHalf(v, v16);
          }
          kernels::attention(pool, q.data(), kData, vData, n, pos, slice,
                             a.getNumHeads(), a.getNumKvHeads(), headDim, scale,
                             out.storage.data());
          values[a] = std::move(out);
        })
        .Case([&](qnt::SiluOp s) {
          elementwise(s, {s.getInput()}, [](const float *const *in, int64_t count, float *out) {
            kernels::silu(in[0], count, out);
          });
        })
        .Case([&](qnt::GeluOp g) {
          bool approx = g.getApproximateTanh();
          elementwise(g, {g.getInput()}, [approx](const float *const *in, int64_t count,
                                                  float *out) {
            kernels::gelu(in[0], count, approx, out);
          });
        })
        .Case([&](qnt::SwigluOp s) {
          elementwise(s, {s.getGate(), s.getUp()},
                      [](const float *const *in, int64_t count, float *out) {
                        kernels::swiglu(in[0], in[1], count, out);
                      });
        })
        .Case([&](qnt::AddOp a) {
          elementwise(a, {a.getLhs(), a.getRhs()},
                      [](const float *const *in, int64_t count, float *out) {
                        kernels::add(in[0], in[1], count, out);
                      });
        })
        .Case([&](qnt::MulOp m) {
          elementwise(m, {m.getLhs(), m.getRhs()},
                      [](const float *const *in, int64_t count, float *out) {
                        kernels::mul(in[0], in[1], count, out);
                      });
        })
        .Case([&](func::ReturnOp r) {
          const Act &result = values.find(r.getOperand(0))->second;
          logits.assign(result.data(), result.data() + result.numel());
        })
        .Default([&](Operation *other) { fail("the executor does not support this op"); });
    if (failure)
      return std::move(failure);
    if (stopped)
      return std::vector<float>();
    for (Value dead : lastUses.lookup(op))
      values.erase(dead);
  }
  return logits;
}

} // namespace qopt
