//===- GraphBuilder.cpp - emit the qnt graph of a Llama-family model -------===//
#include "qopt/Import/GraphBuilder.h"

#include "Qnt/IR/QntDialect.h"
#include "Qnt/Utils/QuantScheme.h"
#include "qopt/Support/Error.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

using namespace mlir;

namespace qopt {

namespace {

class LlamaEmitter {
public:
  LlamaEmitter(OpBuilder &b, const ModelConfig &c, const ParameterStore &params,
               const std::map<std::string, ImportedQuantScheme> &quantized)
      : b(b), c(c), params(params), quantized(quantized), loc(b.getUnknownLoc()),
        f32(b.getF32Type()) {}

  void emitBody(Value tokens, Value pos, Value cache) {
    Value table = param(param::tokEmbeddings());
    Value x = qnt::EmbeddingOp::create(b, loc, act(c.dim), tokens, table);
    for (int64_t l = 0; l < c.numLayers; ++l)
      x = emitLayer(l, x, pos, cache);
    Value h = rmsNorm(x, param(param::finalNorm()));
    Value classifier = param(c.tiedClassifier ? param::tokEmbeddings()
                                              : param::classifier());
    Value logits = qnt::LmHeadOp::create(b, loc, act(c.vocabSize), h, classifier);
    func::ReturnOp::create(b, loc, logits);
  }

private:
  Value emitLayer(int64_t l, Value x, Value pos, Value cache) {
    int64_t hd = c.headDim();
    Value h = rmsNorm(x, param(param::layer(l, "attention_norm")));
    auto bias = [&](const char *name) {
      return c.qkvBias ? param(param::layer(l, name)) : Value();
    };
    Value q = linear(h, param::layer(l, "wq"), c.qDim(), bias("bq"));
    Value k = linear(h, param::layer(l, "wk"), c.kvDim(), bias("bk"));
    Value v = linear(h, param::layer(l, "wv"), c.kvDim(), bias("bv"));
    auto style = c.rope == RopePairing::Interleaved ? qnt::RopeStyle::Interleaved
                                                    : qnt::RopeStyle::RotateHalf;
    auto styleAttr = qnt::RopeStyleAttr::get(b.getContext(), style);
    DenseF32ArrayAttr scale =
        c.ropeFreqScale.empty() ? DenseF32ArrayAttr() : b.getDenseF32ArrayAttr(c.ropeFreqScale);
    q = qnt::RopeOp::create(b, loc, q.getType(), q, pos, b.getI64IntegerAttr(hd),
                            b.getF32FloatAttr(c.ropeTheta), styleAttr, scale);
    k = qnt::RopeOp::create(b, loc, k.getType(), k, pos, b.getI64IntegerAttr(hd),
                            b.getF32FloatAttr(c.ropeTheta), styleAttr, scale);
    Value attn = qnt::AttentionOp::create(
        b, loc, act(c.qDim()), q, k, v, cache, pos, b.getI64IntegerAttr(l),
        b.getI64IntegerAttr(c.numHeads), b.getI64IntegerAttr(c.numKvHeads),
        b.getI64IntegerAttr(hd), FloatAttr(),
        c.slidingWindow ? b.getI64IntegerAttr(c.slidingWindow) : IntegerAttr());
    Value o = linear(attn, param::layer(l, "wo"), c.dim);
    x = qnt::AddOp::create(b, loc, x, o);

    Value h2 = rmsNorm(x, param(param::layer(l, "ffn_norm")));
    Value gate = linear(h2, param::layer(l, "w1"), c.hiddenDim);
    Value up = linear(h2, param::layer(l, "w3"), c.hiddenDim);
    Value act = qnt::SwigluOp::create(b, loc, gate, up);
    Value down = linear(act, param::layer(l, "w2"), c.dim);
    return qnt::AddOp::create(b, loc, x, down);
  }

  /// An activation type [?, features] in f32.
  RankedTensorType act(int64_t features) {
    return RankedTensorType::get({ShapedType::kDynamic, features}, f32);
  }

  Value param(const std::string &name) {
    if (auto it = quantized.find(name); it != quantized.end())
      return qparam(name, it->second);
    const TensorView *t = params.lookup(name);
    assert(t && "importer must provide every canonical parameter");
    Type elt = t->dtype == DType::F16    ? Type(b.getF16Type())
               : t->dtype == DType::BF16 ? Type(b.getBF16Type())
                                         : Type(f32);
    auto type = RankedTensorType::get(t->shape, elt);
    return qnt::ParamOp::create(b, loc, type, b.getStringAttr(name));
  }

  /// A weight that arrived quantized. Its packed codes do not tell its
  /// columns, so the shape comes from the model's geometry.
  Value qparam(const std::string &name, const ImportedQuantScheme &q) {
    qmath::Scheme s;
    s.bits = q.bits;
    s.groupSize = q.groupSize;
    s.symmetric = q.symmetric;
    auto type = RankedTensorType::get(weightShape(name), f32);
    return qnt::QParamOp::create(b, loc, type, b.getStringAttr(name),
                                 s.toAttr(b.getContext()));
  }

  /// [out, in] of a canonical matrix.
  SmallVector<int64_t, 2> weightShape(llvm::StringRef name) {
    if (name == param::tokEmbeddings() || name == param::classifier())
      return {c.vocabSize, c.dim};
    llvm::StringRef leaf = name.rsplit('.').second;
    if (leaf == "wq")
      return {c.qDim(), c.dim};
    if (leaf == "wk" || leaf == "wv")
      return {c.kvDim(), c.dim};
    if (leaf == "wo")
      return {c.dim, c.qDim()};
    if (leaf == "w2")
      return {c.dim, c.hiddenDim};
    return {c.hiddenDim, c.dim}; // w1, w3
  }

  Value rmsNorm(Value x, Value w) {
    return qnt::RmsNormOp::create(b, loc, x.getType(), x, w,
                                    b.getF32FloatAttr(c.normEps), /*quant_bits=*/nullptr);
  }

  Value linear(Value x, const std::string &weight, int64_t out, Value bias = Value()) {
    return qnt::LinearOp::create(b, loc, act(out), x, param(weight), bias);
  }

  OpBuilder &b;
  const ModelConfig &c;
  const ParameterStore &params;
  const std::map<std::string, ImportedQuantScheme> &quantized;
  Location loc;
  Type f32;
};

} // namespace

OwningOpRef<ModuleOp> buildLlamaModule(MLIRContext &ctx, const ModelConfig &c,
                                       const ParameterStore &params,
                                       const std::map<std::string, ImportedQuantScheme> &quantized) {
  ctx.loadDialect<qnt::QntDialect, func::FuncDialect>();
  OpBuilder b(&ctx);
  Location loc = b.getUnknownLoc();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);

  SmallVector<NamedAttribute> model = {
      b.getNamedAttr(kModelDimKey, b.getI64IntegerAttr(c.dim)),
      b.getNamedAttr("hidden_dim", b.getI64IntegerAttr(c.hiddenDim)),
      b.getNamedAttr("n_layers", b.getI64IntegerAttr(c.numLayers)),
      b.getNamedAttr(kModelHeadsKey, b.getI64IntegerAttr(c.numHeads)),
      b.getNamedAttr("n_kv_heads", b.getI64IntegerAttr(c.numKvHeads)),
      b.getNamedAttr(kModelVocabKey, b.getI64IntegerAttr(c.vocabSize)),
      b.getNamedAttr("max_seq_len", b.getI64IntegerAttr(c.maxSeqLen)),
      b.getNamedAttr("norm_eps", b.getF32FloatAttr(c.normEps)),
      b.getNamedAttr("rope_theta", b.getF32FloatAttr(c.ropeTheta)),
      b.getNamedAttr("tied_classifier", b.getBoolAttr(c.tiedClassifier)),
      b.getNamedAttr("source", b.getStringAttr(c.source))};
  if (c.qkvBias)
    model.push_back(b.getNamedAttr("qkv_bias", b.getBoolAttr(true)));
  if (c.explicitHeadDim)
    model.push_back(b.getNamedAttr("head_dim", b.getI64IntegerAttr(c.explicitHeadDim)));
  if (c.slidingWindow)
    model.push_back(b.getNamedAttr("sliding_window", b.getI64IntegerAttr(c.slidingWindow)));
  if (!c.ropeFreqScale.empty()) {
    model.push_back(b.getNamedAttr("rope_scaling", b.getStringAttr(c.ropeScaling)));
    model.push_back(b.getNamedAttr("rope_freq_scale", b.getDenseF32ArrayAttr(c.ropeFreqScale)));
  }
  (*module)->setAttr(kModelAttr, b.getDictionaryAttr(model));

  b.setInsertionPointToEnd(module->getBody());
  auto tokens = RankedTensorType::get({ShapedType::kDynamic}, b.getI32Type());
  auto cache = qnt::KVCacheType::get(&ctx, c.numLayers, c.maxSeqLen, c.numKvHeads,
                                     c.headDim(), b.getF32Type());
  auto logits = RankedTensorType::get({ShapedType::kDynamic, c.vocabSize},
                                      b.getF32Type());
  auto fnType = b.getFunctionType({tokens, b.getIndexType(), cache}, {logits});
  auto fn = func::FuncOp::create(b, loc, kForwardFunc, fnType);
  Block *entry = fn.addEntryBlock();
  b.setInsertionPointToStart(entry);
  LlamaEmitter(b, c, params, quantized)
      .emitBody(entry->getArgument(0), entry->getArgument(1), entry->getArgument(2));
  return module;
}

llvm::Expected<ModelConfig> readModelConfig(ModuleOp module) {
  auto dict = module->getAttrOfType<DictionaryAttr>(kModelAttr);
  if (!dict)
    return makeError(llvm::Twine("module has no '") + kModelAttr + "' attribute");
  ModelConfig c;
  auto getInt = [&](StringRef key, int64_t &out) -> llvm::Error {
    auto a = dict.getAs<IntegerAttr>(key);
    if (!a)
      return makeError(llvm::Twine(kModelAttr) + " lacks integer '" + key + "'");
    out = a.getInt();
    return llvm::Error::success();
  };
  for (auto [key, field] :
       {std::pair<StringRef, int64_t *>{"dim", &c.dim}, {"hidden_dim", &c.hiddenDim},
        {"n_layers", &c.numLayers}, {"n_heads", &c.numHeads},
        {"n_kv_heads", &c.numKvHeads}, {"vocab_size", &c.vocabSize},
        {"max_seq_len", &c.maxSeqLen}})
    if (llvm::Error err = getInt(key, *field))
      return std::move(err);
  if (auto eps = dict.getAs<FloatAttr>("norm_eps"))
    c.normEps = eps.getValueAsDouble();
  if (auto theta = dict.getAs<FloatAttr>("rope_theta"))
    c.ropeTheta = theta.getValueAsDouble();
  if (auto tied = dict.getAs<BoolAttr>("tied_classifier"))
    c.tiedClassifier = tied.getValue();
  if (auto src = dict.getAs<StringAttr>("source"))
    c.source = src.str();
  if (auto bias = dict.getAs<BoolAttr>("qkv_bias"))
    c.qkvBias = bias.getValue();
  if (auto headDim = dict.getAs<IntegerAttr>("head_dim"))
    c.explicitHeadDim = headDim.getInt();
  if (auto window = dict.getAs<IntegerAttr>("sliding_window"))
    c.slidingWindow = window.getInt();
  if (auto scaling = dict.getAs<StringAttr>("rope_scaling"))
    c.ropeScaling = scaling.str();
  if (auto scale = dict.getAs<DenseF32ArrayAttr>("rope_freq_scale"))
    c.ropeFreqScale.assign(scale.asArrayRef().begin(), scale.asArrayRef().end());
  // The pairing lives on the rope ops (all alike: the builder emits one style).
  module.walk([&](qnt::RopeOp rope) {
    c.rope = rope.getStyle() == qnt::RopeStyle::RotateHalf ? RopePairing::RotateHalf
                                                           : RopePairing::Interleaved;
  });
  if (llvm::Error err = c.validate())
    return std::move(err);
  return c;
}

} // namespace qopt
