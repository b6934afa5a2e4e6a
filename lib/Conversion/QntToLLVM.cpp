//===- QntToLLVM.cpp - qnt forward function to CPU code --------------------===//
#include "qopt/Conversion/QntToLLVM.h"
#include "ArenaPlan.h"
#include "Qnt/Utils/LinearOps.h"
#include "qopt/Support/Error.h"
#include "qrt_abi.h"

#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVMPass.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Quant/IR/Quant.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>
#include <type_traits>

using namespace mlir;

namespace qopt::cpu {
namespace {

// The contract with the runtime (runtime/include/qrt_abi.h): the config
// struct is emitted as QRT_CONFIG_LEN i64, filled field by field by name.
static_assert(sizeof(qrt_program_config) == QRT_CONFIG_LEN * sizeof(int64_t) &&
                  std::is_standard_layout_v<qrt_program_config>,
              "qrt_program_config must be QRT_CONFIG_LEN int64_t fields");
// How a linear's input is given.
constexpr int64_t kInputF32 = QRT_INPUT_F32, kInputW8A8 = QRT_INPUT_W8A8,
                  kInputTokenQ8 = QRT_INPUT_TOKEN_Q8;
constexpr int64_t kMaxFusedLinears = 3; // weights per qrt_linear_multi call

/// The quant_bits of a norm that quantizes `v` (its result), if any.
std::optional<uint64_t> quantizingNormBits(Value v) {
  if (auto n = v.getDefiningOp<qnt::RmsNormOp>())
    return n.getQuantBits();
  if (auto n = v.getDefiningOp<qnt::AddRmsNormOp>(); n && v == n.getResult())
    return n.getQuantBits();
  return std::nullopt;
}

/// Builds @qopt_forward op by op. Activation values map to pointers into
/// the arena (or to the caller's logits buffer for the returned logits).
class ProgramBuilder {
public:
  ProgramBuilder(ModuleOp src, const CpuOptions &options)
      : src(src), chunk(options.chunk), options(options), ctx(src.getContext()), b(ctx), loc(src.getLoc()) {
    f32 = b.getF32Type();
    i64 = b.getI64Type();
    ptr = LLVM::LLVMPointerType::get(ctx);
  }

  static std::string printType(Type t) {
    std::string s;
    llvm::raw_string_ostream os(s);
    t.print(os);
    return s;
  }

  llvm::Expected<CpuProgram> build() {
    auto forward = src.lookupSymbol<func::FuncOp>("forward");
    if (!forward || forward.getNumArguments() != 3)
      return makeError("the module has no qnt forward function (forward(tokens, pos, cache))");
    auto cache = dyn_cast<qnt::KVCacheType>(forward.getArgument(2).getType());
    if (cache && !cache.getElementType().isF32() && !cache.getElementType().isF16())
      return makeError("the CPU target keeps the KV cache in f32 or f16, not " +
                       printType(cache.getElementType()));
    fwd = forward;
    CpuProgram program;
    program.chunk = chunk;
    program.module = ModuleOp::create(loc);
    b.setInsertionPointToEnd(program.module->getBody());
    declareRuntime();

    auto fnType = b.getFunctionType({ptr, ptr, i64, i64, ptr}, {});
    auto fn = func::FuncOp::create(b, loc, "qopt_forward", fnType);
    Block *entry = fn.addEntryBlock();
    b.setInsertionPointToStart(entry);
    ctxArg = entry->getArgument(0);
    tokensArg = entry->getArgument(1);
    nArg = entry->getArgument(2);
    posArg = entry->getArgument(3);
    logitsArg = entry->getArgument(4);
    arena = call("qrt_arena", {ctxArg}).getResult();

    auto plan = planArena(forward, chunk);
    if (!plan)
      return plan.takeError();
    arenaPlan = std::move(*plan);
    for (Operation &op : forward.getBody().front())
      if (auto err = lower(&op))
        return std::move(err);
    func::ReturnOp::create(b, loc);

    program.slots = slots;
    program.arenaFloats = arenaPlan.totalFloats;
    program.unplannedFloats = arenaPlan.unplannedFloats;
    emitConfig(program);
    return program;
  }

private:
  ModuleOp src;
  int64_t chunk;
  CpuOptions options;
  MLIRContext *ctx;
  OpBuilder b;
  Location loc;
  Type f32, i64, ptr;
  func::FuncOp fwd;
  Value ctxArg, tokensArg, nArg, posArg, logitsArg, arena;
  ArenaPlan arenaPlan;
  llvm::DenseMap<Value, Value> buffers;
  std::vector<WeightSlot> slots;
  llvm::StringMap<int64_t> slotIndex;
  llvm::StringMap<LLVM::LLVMFuncOp> runtime;

  void declare(StringRef name, Type result, ArrayRef<Type> args) {
    auto type = LLVM::LLVMFunctionType::get(result ? result : LLVM::LLVMVoidType::get(ctx), args);
    runtime[name] = LLVM::LLVMFuncOp::create(b, loc, name, type);
  }

  void declareRuntime() {
    declare("qrt_arena", ptr, {ptr});
    declare("qrt_embed", nullptr, {ptr, i64, ptr, i64, ptr});
    declare("qrt_rms_norm", nullptr, {ptr, i64, ptr, i64, f32, ptr});
    declare("qrt_linear", nullptr, {ptr, i64, ptr, i64, ptr});
    declare("qrt_linear_w8a8", nullptr, {ptr, i64, ptr, i64, ptr});
    declare("qrt_lm_head", nullptr, {ptr, i64, ptr, i64, ptr});
    declare("qrt_linear_multi", nullptr, {ptr, i64, i64, i64, i64, i64, ptr, i64, ptr, ptr, ptr});
    declare("qrt_linear_swiglu", nullptr, {ptr, i64, i64, i64, ptr, i64, ptr, ptr});
    declare("qrt_rms_norm_quant", nullptr, {ptr, i64, ptr, i64, f32, ptr});
    declare("qrt_add_rms_norm", nullptr, {ptr, i64, ptr, ptr, i64, f32, i64, ptr, ptr});
    declare("qrt_rope", nullptr, {ptr, ptr, i64, i64, i64, i64, f32, i64, ptr});
    declare("qrt_attention", nullptr, {ptr, i64, ptr, ptr, ptr, i64, i64, i64, i64, i64, f32, ptr});
  }

  LLVM::CallOp call(StringRef name, ArrayRef<Value> args) {
    return LLVM::CallOp::create(b, loc, runtime[name], ValueRange(args));
  }
  Value constI64(int64_t v) { return arith::ConstantIntOp::create(b, loc, i64, v); }
  Value constF32(float v) {
    return arith::ConstantFloatOp::create(b, loc, cast<FloatType>(f32), llvm::APFloat(v));
  }

  /// Slot index of the parameter behind `weight`; `gathered` when only rows
  /// of it are read (an embedding table).
  llvm::Expected<int64_t> slotOf(Value weight, bool gathered = false) {
    Operation *def = weight.getDefiningOp();
    WeightSlot slot;
    if (auto p = dyn_cast_or_null<qnt::ParamOp>(def))
      slot = floatSlot(p);
    else if (auto q = dyn_cast_or_null<qnt::QParamOp>(def))
      slot = quantizedSlot(q);
    else
      return makeError("a weight operand must come from qnt.param or qnt.qparam");
    std::string key = slot.name + (slot.quantized ? "#q" : "#f");
    slot.gatherOnly = gathered;
    auto it = slotIndex.find(key);
    if (it != slotIndex.end()) {
      slots[it->second].gatherOnly &= gathered;
      return it->second;
    }
    slots.push_back(slot);
    slotIndex[key] = int64_t(slots.size() - 1);
    return int64_t(slots.size() - 1);
  }

  /// The pointer an activation value lives at.
  Value bufferOf(Value v) { return buffers.lookup(v); }

  /// A linear's input as the runtime takes it: the buffer, and QRT_INPUT_*.
  std::pair<Value, int64_t> linearInput(Value input) {
    if (auto dq = input.getDefiningOp<qnt::DynamicQuantOp>())
      return {bufferOf(dq.getInput()), kInputW8A8};
    if (quantizingNormBits(input))
      return {bufferOf(input), kInputTokenQ8};
    return {bufferOf(input), kInputF32};
  }

  /// A norm's quant_bits must be 8 and its result read only by linears of
  /// int8 weights: they get integer codes, not floats.
  llvm::Error checkQuantizingNorm(Operation *op, Value result, std::optional<uint64_t> bits) {
    if (!bits)
      return llvm::Error::success();
    if (*bits != 8)
      return unsupported(op, "quant_bits must be 8");
    if (!qnt::feedsOnlyInt8Linears(result, /*allowOutliers=*/false))
      return unsupported(op, "a quantizing norm may feed only linears of int8 weights "
                             "without outlier channels");
    return llvm::Error::success();
  }

  /// qrt_linear_multi over `weights` (any number, in calls of up to 3).
  llvm::Error multiLinear(Value input, ValueRange weights, ValueRange results) {
    auto [in, kind] = linearInput(input);
    for (size_t first = 0; first < weights.size(); first += kMaxFusedLinears) {
      size_t count = std::min<size_t>(kMaxFusedLinears, weights.size() - first);
      SmallVector<Value> slotArgs, outArgs;
      for (size_t i = 0; i < kMaxFusedLinears; ++i) {
        if (i < count) {
          auto slot = slotOf(weights[first + i]);
          if (!slot)
            return slot.takeError();
          slotArgs.push_back(constI64(*slot));
          outArgs.push_back(allocate(results[first + i]));
        } else {
          slotArgs.push_back(constI64(-1));
          outArgs.push_back(LLVM::ZeroOp::create(b, loc, ptr));
        }
      }
      call("qrt_linear_multi", {ctxArg, constI64(kind), constI64(int64_t(count)), slotArgs[0],
                                slotArgs[1], slotArgs[2], in, nArg, outArgs[0], outArgs[1],
                                outArgs[2]});
    }
    return llvm::Error::success();
  }

  /// Gives `v` its planned arena slice (or the logits buffer).
  Value allocate(Value v) {
    Value p;
    if (arenaPlan.returned == v) {
      p = logitsArg;
    } else {
      int64_t offset = arenaPlan.offsets.lookup(v);
      p = LLVM::GEPOp::create(b, loc, ptr, f32, arena, ArrayRef<LLVM::GEPArg>{constI64(offset)});
    }
    buffers[v] = p;
    return p;
  }

  static int64_t width(Value v) { return cast<RankedTensorType>(v.getType()).getShape().back(); }

  /// out[i] = body(in_0[i], in_1[i], ...) for i < n * width, as a loop.
  void elementwise(ArrayRef<Value> inputs, Value out, int64_t rowWidth,
                   llvm::function_ref<Value(ArrayRef<Value>)> body) {
    Value count = arith::MulIOp::create(b, loc, nArg, constI64(rowWidth));
    auto loop = scf::ForOp::create(b, loc, constI64(0), count, constI64(1));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value i = loop.getInductionVar();
    SmallVector<Value> loaded;
    for (Value in : inputs) {
      Value at = LLVM::GEPOp::create(b, loc, ptr, f32, in, ArrayRef<LLVM::GEPArg>{i});
      loaded.push_back(LLVM::LoadOp::create(b, loc, f32, at));
    }
    Value result = body(loaded);
    Value at = LLVM::GEPOp::create(b, loc, ptr, f32, out, ArrayRef<LLVM::GEPArg>{i});
    LLVM::StoreOp::create(b, loc, result, at);
  }

  llvm::Error unsupported(Operation *op, const llvm::Twine &why = "") {
    std::string name = op->getName().getStringRef().str();
    return makeError("'" + name + "' is not supported by the " +
                     (options.deviceArena ? "NVPTX" : "CPU") + " target" +
                     (why.isTriviallyEmpty() ? "" : ": ") + why);
  }

  llvm::Error lower(Operation *op) {
    if (isa<qnt::ParamOp, qnt::QParamOp>(op) || arenaPlan.folded.contains(op))
      return llvm::Error::success();
    if (options.deviceArena && isa<quant::DequantizeCastOp>(op))
      return unsupported(op, "static activation quantization has no GPU kernel "
                             "(use --act-mode dynamic)");
    if (options.deviceArena && isa<qnt::SwigluOp, qnt::SiluOp, qnt::AddOp, qnt::MulOp>(op))
      return unsupported(op, "the CUDA backend runs fused programs, and this elementwise op "
                             "was left unfused");
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      if (ret.getNumOperands() != 1 || ret.getOperand(0) != arenaPlan.returned)
        return makeError("the forward function must return the qnt.lm_head logits");
      return llvm::Error::success();
    }
    for (Value operand : op->getOperands())
      if (Operation *def = operand.getDefiningOp())
        if (isa<qnt::DynamicQuantOp>(def) && !arenaPlan.folded.contains(def))
          return unsupported(def, "only per-token int8 feeding int8 linears is lowered");
    return llvm::TypeSwitch<Operation *, llvm::Error>(op)
        .Case([&](qnt::EmbeddingOp e) -> llvm::Error {
          if (e.getTokens() != fwd.getArgument(0))
            return unsupported(op, "tokens must be the function's argument");
          auto slot = slotOf(e.getTable(), /*gathered=*/true);
          if (!slot)
            return slot.takeError();
          Value out = allocate(e.getResult());
          call("qrt_embed", {ctxArg, constI64(*slot), tokensArg, nArg, out});
          return llvm::Error::success();
        })
        .Case([&](qnt::RmsNormOp r) -> llvm::Error {
          if (auto err = checkQuantizingNorm(op, r.getResult(), r.getQuantBits()))
            return err;
          auto slot = slotOf(r.getWeight());
          if (!slot)
            return slot.takeError();
          Value in = bufferOf(r.getInput());
          Value out = allocate(r.getResult());
          call(r.getQuantBits() ? "qrt_rms_norm_quant" : "qrt_rms_norm",
               {ctxArg, constI64(*slot), in, nArg, constF32(r.getEps().convertToFloat()), out});
          return llvm::Error::success();
        })
        .Case([&](qnt::AddRmsNormOp r) -> llvm::Error {
          if (auto err = checkQuantizingNorm(op, r.getResult(), r.getQuantBits()))
            return err;
          auto slot = slotOf(r.getWeight());
          if (!slot)
            return slot.takeError();
          Value lhs = bufferOf(r.getLhs()), rhs = bufferOf(r.getRhs());
          Value sum = allocate(r.getSum());
          Value out = allocate(r.getResult());
          call("qrt_add_rms_norm", {ctxArg, constI64(*slot), lhs, rhs, nArg,
                                    constF32(r.getEps().convertToFloat()),
                                    constI64(r.getQuantBits() ? 1 : 0), sum, out});
          return llvm::Error::success();
        })
        .Case([&](qnt::LinearOp l) -> llvm::Error {
          if (l.getBias())
            return unsupported(op, "linear with bias");
          auto [in, kind] = linearInput(l.getInput());
          if (kind == kInputTokenQ8)
            return multiLinear(l.getInput(), l.getWeight(), l.getResult());
          auto slot = slotOf(l.getWeight());
          if (!slot)
            return slot.takeError();
          Value out = allocate(l.getResult());
          call(kind == kInputW8A8 ? "qrt_linear_w8a8" : "qrt_linear",
               {ctxArg, constI64(*slot), in, nArg, out});
          return llvm::Error::success();
        })
        .Case([&](qnt::MultiLinearOp l) -> llvm::Error {
          return multiLinear(l.getInput(), l.getWeights(), l.getResults());
        })
        .Case([&](qnt::SwigluLinearOp l) -> llvm::Error {
          auto gate = slotOf(l.getGateWeight());
          if (!gate)
            return gate.takeError();
          auto up = slotOf(l.getUpWeight());
          if (!up)
            return up.takeError();
          auto [in, kind] = linearInput(l.getInput());
          Value tmp = LLVM::GEPOp::create(b, loc, ptr, f32, arena,
                                            ArrayRef<LLVM::GEPArg>{constI64(arenaPlan.temps.lookup(op))});
          Value out = allocate(l.getResult());
          call("qrt_linear_swiglu", {ctxArg, constI64(kind), constI64(*gate), constI64(*up), in,
                                     nArg, tmp, out});
          return llvm::Error::success();
        })
        .Case([&](qnt::LmHeadOp h) -> llvm::Error {
          auto slot = slotOf(h.getWeight());
          if (!slot)
            return slot.takeError();
          Value in = bufferOf(h.getInput());
          Value out = allocate(h.getResult());
          call("qrt_lm_head", {ctxArg, constI64(*slot), in, nArg, out});
          return llvm::Error::success();
        })
        .Case([&](qnt::RopeOp r) -> llvm::Error {
          if (r.getPos() != fwd.getArgument(1))
            return unsupported(op, "pos must be the function's argument");
          Value in = bufferOf(r.getInput());
          Value out = allocate(r.getResult());
          bool interleaved = r.getStyle() == qnt::RopeStyle::Interleaved;
          call("qrt_rope", {ctxArg, in, nArg, constI64(width(r.getInput())),
                            constI64(r.getHeadDim()), posArg,
                            constF32(r.getTheta().convertToFloat()), constI64(interleaved), out});
          return llvm::Error::success();
        })
        .Case([&](qnt::AttentionOp a) -> llvm::Error {
          if (a.getPos() != fwd.getArgument(1))
            return unsupported(op, "pos must be the function's argument");
          int64_t headDim = a.getHeadDim();
          float scale = a.getScale() ? a.getScale()->convertToFloat()
                                     : 1.0f / std::sqrt(float(headDim));
          Value q = bufferOf(a.getQ()), k = bufferOf(a.getK()), v = bufferOf(a.getV());
          Value out = allocate(a.getResult());
          call("qrt_attention", {ctxArg, constI64(a.getLayer()), q, k, v, nArg, posArg,
                                 constI64(a.getNumHeads()), constI64(a.getNumKvHeads()),
                                 constI64(headDim), constF32(scale), out});
          return llvm::Error::success();
        })
        .Case([&](qnt::SwigluOp s) -> llvm::Error {
          Value out = allocate(s.getResult());
          elementwise({bufferOf(s.getGate()), bufferOf(s.getUp())}, out, width(s.getResult()),
                      [&](ArrayRef<Value> x) { return mulF(mulF(x[0], sigmoid(x[0])), x[1]); });
          return llvm::Error::success();
        })
        .Case([&](qnt::SiluOp s) -> llvm::Error {
          Value out = allocate(s.getResult());
          elementwise({bufferOf(s.getInput())}, out, width(s.getResult()),
                      [&](ArrayRef<Value> x) { return mulF(x[0], sigmoid(x[0])); });
          return llvm::Error::success();
        })
        .Case([&](qnt::AddOp a) -> llvm::Error {
          Value out = allocate(a.getResult());
          elementwise({bufferOf(a.getLhs()), bufferOf(a.getRhs())}, out, width(a.getResult()),
                      [&](ArrayRef<Value> x) -> Value {
                        return arith::AddFOp::create(b, loc, x[0], x[1]);
                      });
          return llvm::Error::success();
        })
        .Case([&](qnt::MulOp m) -> llvm::Error {
          Value out = allocate(m.getResult());
          elementwise({bufferOf(m.getLhs()), bufferOf(m.getRhs())}, out, width(m.getResult()),
                      [&](ArrayRef<Value> x) { return mulF(x[0], x[1]); });
          return llvm::Error::success();
        })
        .Case([&](quant::DequantizeCastOp dc) -> llvm::Error {
          auto qc = dc.getInput().getDefiningOp<quant::QuantizeCastOp>();
          auto type = qc ? dyn_cast<quant::UniformQuantizedType>(
                               getElementTypeOrSelf(dc.getInput().getType()))
                         : nullptr;
          if (!type)
            return unsupported(op, "expected quant.qcast to a per-tensor !quant.uniform");
          Value out = allocate(dc.getResult());
          float scale = float(type.getScale()), zero = float(type.getZeroPoint());
          float lo = float(type.getStorageTypeMin()), hi = float(type.getStorageTypeMax());
          // (clamp(roundeven(x / s) + z, lo, hi) - z) * s, as the executor.
          elementwise({bufferOf(qc.getInput())}, out, width(dc.getResult()),
                      [&](ArrayRef<Value> x) -> Value {
                        Value q = arith::DivFOp::create(b, loc, x[0], constF32(scale));
                        q = math::RoundEvenOp::create(b, loc, q);
                        q = arith::AddFOp::create(b, loc, q, constF32(zero));
                        q = arith::MaxNumFOp::create(b, loc, q, constF32(lo));
                        q = arith::MinNumFOp::create(b, loc, q, constF32(hi));
                        q = arith::SubFOp::create(b, loc, q, constF32(zero));
                        return mulF(q, constF32(scale));
                      });
          return llvm::Error::success();
        })
        .Case([&](quant::QuantizeCastOp) { return llvm::Error::success(); })
        .Default([&](Operation *other) { return unsupported(other); });
  }

  Value mulF(Value a, Value c) { return arith::MulFOp::create(b, loc, a, c); }
  /// 1 / (1 + exp(-x)), the executor's association.
  Value sigmoid(Value x) {
    Value e = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, x));
    Value d = arith::AddFOp::create(b, loc, constF32(1.0f), e);
    return arith::DivFOp::create(b, loc, constF32(1.0f), d);
  }

  void emitConfig(CpuProgram &program) {
    auto attrs = src->getAttrOfType<DictionaryAttr>(kModelAttr);
    auto get = [&](StringRef key) -> int64_t {
      if (!attrs)
        return 0;
      auto a = dyn_cast_or_null<IntegerAttr>(attrs.get(key));
      return a ? a.getInt() : 0;
    };
    auto cache = cast<qnt::KVCacheType>(fwd.getArgument(2).getType());
    qrt_program_config config = {};
    config.program_hash = int64_t(programHash(slots));
    config.dim = get(kModelDimKey);
    config.vocab = get(kModelVocabKey);
    config.layers = int64_t(cache.getLayers());
    config.kv_width = int64_t(cache.getKvHeads() * cache.getHeadDim());
    config.max_seq = int64_t(cache.getMaxSeqLen());
    config.chunk = chunk;
    config.arena_floats = program.arenaFloats;
    config.num_slots = int64_t(slots.size());
    config.n_heads = get(kModelHeadsKey);
    config.flags = (options.int8Activations ? QRT_FLAG_Q8_ACTIVATIONS : 0) |
                   (cache.getElementType().isF16() ? QRT_FLAG_KV_F16 : 0);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToEnd(program.module->getBody());
    auto type = LLVM::LLVMArrayType::get(i64, QRT_CONFIG_LEN);
    auto value = DenseElementsAttr::get(
        RankedTensorType::get({QRT_CONFIG_LEN}, i64),
        ArrayRef<int64_t>(reinterpret_cast<const int64_t *>(&config), QRT_CONFIG_LEN));
    LLVM::GlobalOp::create(b, loc, type, /*isConstant=*/true, LLVM::Linkage::External,
                             "qopt_program_config", value);
    LLVM::GlobalOp::create(b, loc, i64, /*isConstant=*/true, LLVM::Linkage::External,
                             "qopt_program_abi_version", b.getI64IntegerAttr(QRT_ABI_VERSION));
  }
};

} // namespace

llvm::Expected<CpuProgram> buildCpuProgram(ModuleOp qntModule, const CpuOptions &options) {
  if (options.chunk < 1)
    return makeError("chunk must be at least 1");
  MLIRContext *ctx = qntModule.getContext();
  ctx->loadDialect<LLVM::LLVMDialect, func::FuncDialect, scf::SCFDialect, arith::ArithDialect,
                   math::MathDialect, cf::ControlFlowDialect>();
  return ProgramBuilder(qntModule, options).build();
}

llvm::Expected<CpuProgram> lowerToCpu(ModuleOp qntModule, const CpuOptions &options) {
  auto program = buildCpuProgram(qntModule, options);
  if (!program)
    return program.takeError();
  PassManager pm(qntModule.getContext());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  if (failed(pm.run(*program->module)))
    return makeError("lowering the CPU program to the LLVM dialect failed");
  return program;
}

} // namespace qopt::cpu
