//===- Recipes.cpp - quantization recipes as registered pass pipelines -----===//
#include "qopt/Pipelines/Recipes.h"

#include "passes/Passes.h"
#include "qopt/Support/Error.h"

#include "mlir/Pass/PassRegistry.h"
#include "llvm/ADT/StringExtras.h"

namespace qopt {
namespace {

// The options each recipe reads, by pipeline spelling.
constexpr llvm::StringRef kWeightOptions[] = {"bits", "group-size", "symmetric"};
constexpr llvm::StringRef kGptqOptions[] = {"bits",     "group-size",    "symmetric",
                                            "act-order", "static-groups", "damp"};
constexpr llvm::StringRef kW8A8Options[] = {"alpha", "alpha-search", "act-mode", "observer"};
constexpr llvm::StringRef kNf4Options[] = {"group-size"};
constexpr llvm::StringRef kLlmInt8Options[] = {"threshold"};
constexpr llvm::StringRef kMixedOptions[] = {"bits",          "group-size", "symmetric",
                                             "act-order",     "static-groups", "damp",
                                             "target-bpw"};
// Read by every recipe: applied after its own passes.
constexpr llvm::StringRef kCommonOptions[] = {"kv-cache", "lm-head-bits", "lm-head-group-size"};

const RecipeInfo kRecipes[] = {
    {"fp32", "no quantization (the float model, with the common options)", false, {}},
    {"rtn", "round-to-nearest weights", false, kWeightOptions},
    {"gptq", "GPTQ weights (Hessian-guided rounding, clip search)", true, kGptqOptions},
    {"awq", "AWQ scales and clipping, then round-to-nearest", true, kWeightOptions},
    {"awq-gptq", "AWQ scales, then GPTQ", true, kGptqOptions},
    {"w8a8", "SmoothQuant, int8 weights per channel and int8 activations", true, kW8A8Options},
    {"nf4", "NormalFloat-4 weights with double quantization (QLoRA)", false, kNf4Options},
    {"llm-int8", "LLM.int8(): int8 with 16-bit outlier channels", true, kLlmInt8Options},
    {"mixed", "AWQ scales, per-linear schemes for a bits-per-weight budget, then GPTQ", true,
     kMixedOptions},
};

QntQuantizeWeightsOptions weightScheme(const RecipeOptions &o) {
  QntQuantizeWeightsOptions w;
  w.bits = o.bits;
  w.groupSize = o.groupSize;
  w.symmetric = o.symmetric;
  return w;
}

QntAWQOptions awqScales(const RecipeOptions &o, bool clip) {
  QntAWQOptions a;
  a.bits = o.bits;
  a.groupSize = o.groupSize;
  a.symmetric = o.symmetric;
  a.clip = clip;
  return a;
}

QntGPTQOptions gptq(const RecipeOptions &o) {
  QntGPTQOptions g;
  g.bits = o.bits;
  g.groupSize = o.groupSize;
  g.symmetric = o.symmetric;
  g.actOrder = o.actOrder;
  g.staticGroups = o.staticGroups;
  g.damp = o.damp;
  g.clipSearch = true;
  return g;
}

/// The recipe's own passes (the common options follow in buildRecipePipeline).
void addRecipePasses(mlir::OpPassManager &pm, llvm::StringRef name, const RecipeOptions &o) {
  if (name == "rtn") {
    pm.addPass(createQntQuantizeWeights(weightScheme(o)));
  } else if (name == "gptq") {
    pm.addPass(createQntGPTQ(gptq(o)));
  } else if (name == "awq") {
    pm.addPass(createQntAWQ(awqScales(o, /*clip=*/true)));
    pm.addPass(createQntQuantizeWeights(weightScheme(o)));
  } else if (name == "awq-gptq") {
    // AWQ's clipping clamps weights that GPTQ then compensates for anyway;
    // on top of GPTQ only AWQ's scales help (measured: +5.2% vs +7.6% PPL at
    // w4).
    pm.addPass(createQntAWQ(awqScales(o, /*clip=*/false)));
    pm.addPass(createQntGPTQ(gptq(o)));
  } else if (name == "w8a8") {
    QntSmoothQuantOptions s;
    s.alpha = o.alpha;
    s.alphaSearch = o.alphaSearch;
    pm.addPass(createQntSmoothQuant(s));
    QntQuantizeWeightsOptions w;
    w.bits = 8;
    w.groupSize = 0;
    w.symmetric = true;
    pm.addPass(createQntQuantizeWeights(w));
    QntQuantizeActivationsOptions a;
    a.mode = o.actMode;
    a.observer = o.observer;
    pm.addPass(createQntQuantizeActivations(a));
  } else if (name == "nf4") {
    QntQuantizeWeightsOptions w;
    w.format = "nf4";
    w.groupSize = o.groupSize.hasValue() ? int64_t(o.groupSize) : 64;
    w.doubleQuant = true;
    pm.addPass(createQntQuantizeWeights(w));
  } else if (name == "llm-int8") {
    QntLLMInt8Options l;
    l.threshold = o.threshold;
    pm.addPass(createQntLLMInt8(l));
  } else if (name == "mixed") {
    // AWQ's scales first, so that sensitivity is measured on the weights
    // GPTQ will round, and with GPTQ itself (quantizer=gptq). Near 4.5 bpw,
    // symmetric 4-bit at g64 pays for 5- and 8-bit where it matters (g128
    // asymmetric and 3-bit candidates measured worse there); lower budgets
    // need 3 bits.
    pm.addPass(createQntAWQ(awqScales(o, /*clip=*/false)));
    QntMixedPrecisionOptions m;
    m.targetBpw = o.targetBpw;
    m.candidates = o.targetBpw >= 4.25 ? "int4:g64:sym,int4:g32:sym,int5:g64:sym,int8:g0:sym"
                                       : "int3:g64:asym,int3:g32:sym,int4:g128:asym,"
                                         "int4:g64:asym,int4:g32:sym";
    m.quantizer = "gptq";
    m.samples = 16;
    pm.addPass(createQntMixedPrecision(m));
    pm.addPass(createQntGPTQ(gptq(o)));
  }
}

} // namespace

llvm::ArrayRef<RecipeInfo> allRecipes() { return kRecipes; }

const RecipeInfo *findRecipe(llvm::StringRef name) {
  for (const RecipeInfo &r : kRecipes)
    if (r.name == name)
      return &r;
  return nullptr;
}

std::string recipeNames() {
  std::string s;
  for (const RecipeInfo &r : kRecipes)
    s += (s.empty() ? "" : ", ") + r.name.str();
  return s;
}

llvm::Error checkRecipeOptions(const RecipeInfo &recipe, const RecipeOptions &o,
                               llvm::StringRef flagPrefix) {
  std::string p = flagPrefix.str();
  auto reads = [&](llvm::StringRef option) {
    return llvm::is_contained(recipe.options, option) ||
           llvm::is_contained(kCommonOptions, option);
  };
  // An option the recipe would silently ignore is a mistake worth naming.
  const std::pair<bool, llvm::StringRef> explicitOptions[] = {
      {o.bits.hasValue(), "bits"},
      {o.groupSize.hasValue(), "group-size"},
      {o.symmetric.hasValue(), "symmetric"},
      {o.actOrder.hasValue(), "act-order"},
      {o.staticGroups.hasValue(), "static-groups"},
      {o.damp.hasValue(), "damp"},
      {o.alpha.hasValue(), "alpha"},
      {o.alphaSearch.hasValue(), "alpha-search"},
      {o.actMode.hasValue(), "act-mode"},
      {o.observer.hasValue(), "observer"},
      {o.threshold.hasValue(), "threshold"},
      {o.targetBpw.hasValue(), "target-bpw"}};
  for (auto [given, name] : explicitOptions) {
    if (!given || reads(name))
      continue;
    std::string uses;
    for (llvm::StringRef r : recipe.options)
      uses += (uses.empty() ? "" : ", ") + p + r.str();
    return makeError(p + name + " does not apply to recipe " + recipe.name.str() + " (it reads " +
                     (uses.empty() ? std::string("none of the recipe options") : uses) + ")");
  }
  return checkCommonOptions(o, flagPrefix);
}

llvm::Error checkCommonOptions(const RecipeOptions &o, llvm::StringRef flagPrefix) {
  std::string p = flagPrefix.str();
  if (o.kvCache != "f32" && o.kvCache != "f16" && o.kvCache != "i8")
    return makeError(p + "kv-cache must be f32, f16 or i8, not '" + o.kvCache + "'");
  if (o.lmHeadBits != 0) {
    if (o.lmHeadBits < 2 || o.lmHeadBits > 8)
      return makeError(p + "lm-head-bits must be 0 (keep float) or in [2, 8], got " +
                       std::to_string(o.lmHeadBits));
    if (o.lmHeadGroupSize < 0)
      return makeError(p + "lm-head-group-size must be 0 (per output channel) or positive, got " +
                       std::to_string(o.lmHeadGroupSize));
  } else if (o.lmHeadGroupSize != 0) {
    return makeError(p + "lm-head-group-size needs " + p + "lm-head-bits");
  }
  return llvm::Error::success();
}

llvm::Error buildRecipePipeline(mlir::OpPassManager &pm, const RecipeInfo &recipe,
                                const RecipeOptions &o, llvm::StringRef flagPrefix) {
  if (llvm::Error err = checkRecipeOptions(recipe, o, flagPrefix))
    return err;
  addRecipePasses(pm, recipe.name, o);
  addCommonPasses(pm, o);
  return llvm::Error::success();
}

void addCommonPasses(mlir::OpPassManager &pm, const RecipeOptions &o) {
  if (o.kvCache != "f32") {
    QntKVCacheOptions kv;
    kv.elementType = o.kvCache;
    pm.addPass(createQntKVCache(kv));
  }
  if (o.lmHeadBits != 0) {
    QntQuantizeLmHeadOptions h;
    h.bits = o.lmHeadBits;
    h.groupSize = o.lmHeadGroupSize;
    pm.addPass(createQntQuantizeLmHead(h));
  }
}

void buildFusionPipeline(mlir::OpPassManager &pm) {
  pm.addPass(createQntFuseSwiglu());
  pm.addPass(createQntFuseLinears());
  pm.addPass(createQntFuseResidualNorm());
  pm.addPass(createQntFuseNormQuant());
}

void registerQoptPipelines() {
  for (const RecipeInfo &recipe : kRecipes) {
    std::string arg = "qnt-recipe-" + recipe.name.str();
    std::string summary = "Recipe " + recipe.name.str() + ": " + recipe.summary.str();
    mlir::registerPassPipeline(
        arg, summary,
        [&recipe](mlir::OpPassManager &pm, llvm::StringRef text,
                  llvm::function_ref<mlir::LogicalResult(const llvm::Twine &)> errorHandler) {
          RecipeOptions options;
          if (mlir::failed(options.parseFromString(text)))
            return mlir::failure();
          if (llvm::Error err = buildRecipePipeline(pm, recipe, options))
            return errorHandler("qnt-recipe-" + recipe.name + ": " +
                                llvm::toString(std::move(err)));
          return mlir::success();
        },
        [](llvm::function_ref<void(const mlir::detail::PassOptions &)> optHandler) {
          optHandler(RecipeOptions());
        });
  }
  mlir::PassPipelineRegistration<>(
      "qnt-fuse", "All qnt fusions: swiglu, linears (q/k/v), residual-norm, norm-quant",
      buildFusionPipeline);
}

} // namespace qopt
