//===- ProgramBuilder.cpp - @qopt_forward, op by op -------------------------===//
#include "ProgramBuilder.h"

#include "Qnt/IR/QntDialect.h"
#include "qopt/Support/Error.h"
#include "qrt_abi.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Quant/IR/Quant.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <type_traits>

using namespace mlir;

namespace qopt::cpu {

// The contract with the runtime (runtime/include/qrt_abi.h): the config
// struct is emitted as QRT_CONFIG_LEN i64, filled field by field by name.
static_assert(sizeof(qrt_program_config) == QRT_CONFIG_LEN * sizeof(int64_t) &&
                  std::is_standard_layout_v<qrt_program_config>,
              "qrt_program_config must be QRT_CONFIG_LEN int64_t fields");

static std::string printType(Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  t.print(os);
  return s;
}

ProgramBuilder::ProgramBuilder(ModuleOp src, const CpuOptions &options)
    : b(src.getContext()), loc(src.getLoc()), options(options), src(src), chunk(options.chunk),
      ctx(src.getContext()) {
  f32 = b.getF32Type();
  i64 = b.getI64Type();
  ptr = LLVM::LLVMPointerType::get(ctx);
  addNormLowerings(lowerings);
  addLinearLowerings(lowerings);
  addAttentionLowerings(lowerings);
  addElementwiseLowerings(lowerings);
}

llvm::Expected<CpuProgram> ProgramBuilder::build() {
  auto forward = src.lookupSymbol<func::FuncOp>("forward");
  if (!forward || forward.getNumArguments() != 3)
    return makeError("the module has no qnt forward function (forward(tokens, pos, cache))");
  auto cache = dyn_cast<qnt::KVCacheType>(forward.getArgument(2).getType());
  if (cache && !cache.getElementType().isF32() && !cache.getElementType().isF16() &&
      !cache.getElementType().isSignlessInteger(8))
    return makeError("the CPU target keeps the KV cache in f32, f16 or i8, not " +
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

void ProgramBuilder::declare(StringRef name, Type result, ArrayRef<Type> args) {
  auto type = LLVM::LLVMFunctionType::get(result ? result : LLVM::LLVMVoidType::get(ctx), args);
  runtime[name] = LLVM::LLVMFuncOp::create(b, loc, name, type);
}

void ProgramBuilder::declareRuntime() {
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
  declare("qrt_add_bias", nullptr, {ptr, i64, ptr, i64, i64});
  declare("qrt_rope", nullptr, {ptr, ptr, i64, i64, i64, i64, f32, i64, ptr, ptr});
  declare("qrt_attention", nullptr,
          {ptr, i64, ptr, ptr, ptr, i64, i64, i64, i64, i64, f32, i64, ptr});
}

LLVM::CallOp ProgramBuilder::call(StringRef name, ArrayRef<Value> args) {
  return LLVM::CallOp::create(b, loc, runtime[name], ValueRange(args));
}

Value ProgramBuilder::constI64(int64_t v) { return arith::ConstantIntOp::create(b, loc, i64, v); }

Value ProgramBuilder::constF32(float v) {
  return arith::ConstantFloatOp::create(b, loc, cast<FloatType>(f32), llvm::APFloat(v));
}

Value ProgramBuilder::constF32Array(ArrayRef<float> values) {
  std::vector<float> key(values.begin(), values.end());
  auto found = constArrays.find(key);
  std::string name;
  if (found != constArrays.end()) {
    name = found->second;
  } else {
    name = "qopt_const_f32_" + std::to_string(constArrays.size());
    constArrays.emplace(key, name);
    auto module = b.getInsertionBlock()->getParentOp()->getParentOfType<ModuleOp>();
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToEnd(module.getBody());
    auto type = LLVM::LLVMArrayType::get(f32, values.size());
    auto value = DenseElementsAttr::get(
        RankedTensorType::get({int64_t(values.size())}, f32), values);
    LLVM::GlobalOp::create(b, loc, type, /*isConstant=*/true, LLVM::Linkage::Private, name,
                           value);
  }
  return LLVM::AddressOfOp::create(b, loc, ptr, name);
}

Value ProgramBuilder::nullPointer() { return LLVM::ZeroOp::create(b, loc, ptr); }

Value ProgramBuilder::mulF(Value a, Value c) { return arith::MulFOp::create(b, loc, a, c); }

Value ProgramBuilder::sigmoid(Value x) {
  Value e = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, x));
  Value d = arith::AddFOp::create(b, loc, constF32(1.0f), e);
  return arith::DivFOp::create(b, loc, constF32(1.0f), d);
}

llvm::Expected<int64_t> ProgramBuilder::slotOf(Value weight, bool gathered) {
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

Value ProgramBuilder::allocate(Value v) {
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

Value ProgramBuilder::tempOf(Operation *op) {
  return LLVM::GEPOp::create(b, loc, ptr, f32, arena,
                             ArrayRef<LLVM::GEPArg>{constI64(arenaPlan.temps.lookup(op))});
}

void ProgramBuilder::elementwise(ArrayRef<Value> inputs, Value out, int64_t rowWidth,
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

llvm::Error ProgramBuilder::unsupported(Operation *op, const llvm::Twine &why) {
  std::string name = op->getName().getStringRef().str();
  return makeError("'" + name + "' is not supported by the " +
                   (options.deviceArena ? "NVPTX" : "CPU") + " target" +
                   (why.isTriviallyEmpty() ? "" : ": ") + why);
}

llvm::Error ProgramBuilder::lower(Operation *op) {
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
  if (const LoweringTable::Handler *lowering = lowerings.find(op))
    return (*lowering)(*this, op);
  return unsupported(op);
}

void ProgramBuilder::emitConfig(CpuProgram &program) {
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
  config.head_dim = int64_t(cache.getHeadDim());
  config.flags = (options.int8Activations ? QRT_FLAG_Q8_ACTIVATIONS : 0) |
                 (cache.getElementType().isF16() ? QRT_FLAG_KV_F16 : 0) |
                 (cache.getElementType().isSignlessInteger(8) ? QRT_FLAG_KV_I8 : 0);
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

} // namespace qopt::cpu
