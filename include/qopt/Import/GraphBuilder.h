//===- GraphBuilder.h - a Llama-family graph in the qnt dialect -*- C++ -*-===//
#ifndef QOPT_IMPORT_GRAPHBUILDER_H
#define QOPT_IMPORT_GRAPHBUILDER_H

#include "Qnt/IR/QntAttrNames.h"
#include "qopt/Import/ModelConfig.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace qopt {

/// Name of the entry point: forward(tokens: tensor<?xi32>, pos: index,
/// cache: !qnt.kv_cache) -> logits tensor<?xVOCABxf32>. Prefill passes many
/// tokens, a decode step passes one; both append to the cache at `pos`.
inline constexpr const char *kForwardFunc = "forward";

/// Builds the float qnt graph of `config`. Parameter element types come from
/// the tensors in `params`; the weights named in `quantized` are read
/// through qnt.qparam in their scheme.
mlir::OwningOpRef<mlir::ModuleOp>
buildLlamaModule(mlir::MLIRContext &ctx, const ModelConfig &config, const ParameterStore &params,
                 const std::map<std::string, ImportedQuantScheme> &quantized = {});

/// Reads the hyperparameters back from a module's qnt.model attribute.
llvm::Expected<ModelConfig> readModelConfig(mlir::ModuleOp module);

} // namespace qopt

#endif
