//===- QntAttrNames.h - the discardable attributes qnt programs carry -*- C++ -*-===//
//
// Every attribute name that the importers, passes, report and targets read
// or write, in one place: a name spelled twice can drift apart silently.
//
//===----------------------------------------------------------------------===//
#ifndef QNT_IR_QNTATTRNAMES_H
#define QNT_IR_QNTATTRNAMES_H

#include "llvm/ADT/StringRef.h"

namespace qopt {

// --- on the module ---
/// The parameter file, relative to the .mlir file.
inline constexpr llvm::StringLiteral kParamsAttr = "qnt.parameters";
/// The tokenizer file, relative to the .mlir file.
inline constexpr llvm::StringLiteral kTokenizerAttr = "qnt.tokenizer";
/// A dictionary with the model's hyperparameters (keys below).
inline constexpr llvm::StringLiteral kModelAttr = "qnt.model";
/// Total bytes of the parameters referenced (qnt-check-params{report}).
inline constexpr llvm::StringLiteral kParamBytesAttr = "qnt.param_bytes";

// --- keys of the qnt.model dictionary that targets read ---
inline constexpr llvm::StringLiteral kModelDimKey = "dim";
inline constexpr llvm::StringLiteral kModelVocabKey = "vocab_size";
inline constexpr llvm::StringLiteral kModelHeadsKey = "n_heads";

// --- on linears and their weights ---
/// Mixed precision's choice of a linear's weight scheme; quantizing passes
/// honour it over their own options.
inline constexpr llvm::StringLiteral kWeightSchemeAttr = "qnt.weight_scheme";
/// Set by quantizing passes on the qnt.qparam they create: the relative
/// output error |(W - Q) X|^2 / |W X|^2 on calibration data, or the relative
/// weight error |W - Q|^2 / |W|^2 when no calibration data was used.
inline constexpr llvm::StringLiteral kRelErrorAttr = "qnt.rel_error";
/// The alpha SmoothQuant chose for a group of linears (on its first).
inline constexpr llvm::StringLiteral kSmoothQuantAlphaAttr = "qnt.smoothquant_alpha";
/// Mixed precision's measured loss of each candidate scheme, per linear.
inline constexpr llvm::StringLiteral kSensitivityAttr = "qnt.sensitivity";

} // namespace qopt

#endif
