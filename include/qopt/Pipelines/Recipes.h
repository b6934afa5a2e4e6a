//===- Recipes.h - quantization recipes as registered pass pipelines -*- C++ -*-===//
//
// A recipe is a named pass pipeline over one options struct. Each one is
// registered as `qnt-recipe-NAME` (qopt-opt
// --pass-pipeline='builtin.module(qnt-recipe-gptq{bits=4 act-order=true})'),
// and `qopt compile --recipe NAME` builds the same pipeline from its flags,
// so the two tools cannot drift apart.
//
//===----------------------------------------------------------------------===//
#ifndef QOPT_PIPELINES_RECIPES_H
#define QOPT_PIPELINES_RECIPES_H

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <string>

namespace qopt {

/// Every option any recipe reads. A recipe refuses an option it does not
/// use when the option was given explicitly (hasValue()), rather than
/// ignoring it.
struct RecipeOptions : mlir::PassPipelineOptions<RecipeOptions> {
  Option<int64_t> bits{*this, "bits", llvm::cl::desc("Weight bits (2-8)"), llvm::cl::init(4)};
  Option<int64_t> groupSize{*this, "group-size",
                            llvm::cl::desc("Input channels per scale; 0 = per channel, "
                                           "-1 = per tensor (nf4's default is 64)"),
                            llvm::cl::init(32)};
  Option<bool> symmetric{*this, "symmetric", llvm::cl::desc("Symmetric weight grid"),
                         llvm::cl::init(true)};
  Option<bool> actOrder{*this, "act-order",
                        llvm::cl::desc("GPTQ: decreasing Hessian diagonal order"),
                        llvm::cl::init(false)};
  Option<bool> staticGroups{*this, "static-groups",
                            llvm::cl::desc("GPTQ: group parameters from the unmodified weights"),
                            llvm::cl::init(false)};
  Option<double> damp{*this, "damp", llvm::cl::desc("GPTQ dampening, fraction of mean diag(H)"),
                      llvm::cl::init(0.01)};
  Option<double> alpha{*this, "alpha", llvm::cl::desc("SmoothQuant migration strength"),
                       llvm::cl::init(0.5)};
  Option<bool> alphaSearch{*this, "alpha-search",
                           llvm::cl::desc("SmoothQuant: search alpha per layer"),
                           llvm::cl::init(false)};
  Option<std::string> actMode{*this, "act-mode",
                              llvm::cl::desc("w8a8 activations: static or dynamic"),
                              llvm::cl::init("static")};
  Option<std::string> observer{*this, "observer",
                               llvm::cl::desc("Static activation observer: minmax, "
                                              "percentile, mse"),
                               llvm::cl::init("minmax")};
  Option<double> threshold{*this, "threshold", llvm::cl::desc("llm-int8 outlier threshold"),
                           llvm::cl::init(6.0)};
  Option<double> targetBpw{*this, "target-bpw",
                           llvm::cl::desc("mixed: bits-per-weight budget"), llvm::cl::init(4.5)};
  // Applied after any recipe:
  Option<std::string> kvCache{*this, "kv-cache",
                              llvm::cl::desc("KV cache element type: f32 or f16"),
                              llvm::cl::init("f32")};
  Option<int64_t> lmHeadBits{*this, "lm-head-bits",
                             llvm::cl::desc("Quantize the classifier to this many bits (2-8; "
                                            "0 keeps it in float)"),
                             llvm::cl::init(0)};
  Option<int64_t> lmHeadGroupSize{*this, "lm-head-group-size",
                                  llvm::cl::desc("With lm-head-bits: input channels per "
                                                 "classifier scale (0 = per output channel)"),
                                  llvm::cl::init(0)};
};

/// What a recipe is, for registration, --help and early checks.
struct RecipeInfo {
  llvm::StringRef name;    // --recipe NAME, pipeline qnt-recipe-NAME
  llvm::StringRef summary; // one line for --help
  bool needsCalibration;   // fails early without calibration text
  /// The recipe-specific options it reads (beyond the three applied after
  /// every recipe: kv-cache, lm-head-bits, lm-head-group-size).
  llvm::ArrayRef<llvm::StringRef> options;
};

/// Every recipe, in the order --help lists them.
llvm::ArrayRef<RecipeInfo> allRecipes();

/// The recipe called `name`, or null.
const RecipeInfo *findRecipe(llvm::StringRef name);

/// "fp32, rtn, gptq, ..." for messages.
std::string recipeNames();

/// Checks the options' values and that every explicitly given option is one
/// the recipe reads. Messages name options as the pipeline spells them
/// ("lm-head-bits must be ..."); `flagPrefix` ("--" for qopt compile) is put
/// before each name.
llvm::Error checkRecipeOptions(const RecipeInfo &recipe, const RecipeOptions &options,
                               llvm::StringRef flagPrefix = "");

/// The checks of checkRecipeOptions for the three options applied after
/// every recipe (kv-cache, lm-head-bits, lm-head-group-size), and the
/// passes they add; for an explicit pipeline that takes them too.
llvm::Error checkCommonOptions(const RecipeOptions &options, llvm::StringRef flagPrefix = "");
void addCommonPasses(mlir::OpPassManager &pm, const RecipeOptions &options);

/// Appends the recipe's passes to `pm` (checkRecipeOptions first).
llvm::Error buildRecipePipeline(mlir::OpPassManager &pm, const RecipeInfo &recipe,
                                const RecipeOptions &options, llvm::StringRef flagPrefix = "");

/// Registers `qnt-recipe-NAME` for every recipe, and `qnt-fuse`.
void registerQoptPipelines();

/// qnt-fuse: swiglu, linears (q/k/v), residual-norm, norm-quant, in that
/// order (the later ones see the ops the earlier ones make).
void buildFusionPipeline(mlir::OpPassManager &pm);

} // namespace qopt

#endif
