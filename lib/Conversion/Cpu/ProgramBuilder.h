//===- ProgramBuilder.h - what every op family's CPU lowering shares -*- C++ -*-===//
//
// ProgramBuilder builds @qopt_forward op by op. It owns the runtime
// declarations, the weight slot table, and the arena pointers of activation
// values; each op family (norms, linears, attention, elementwise glue)
// lowers its ops in its own file through the helpers below, registered in
// a LoweringTable. An architecture that needs a new kind of op touches one
// family.
//
//===----------------------------------------------------------------------===//
#ifndef QOPT_CONVERSION_CPU_PROGRAMBUILDER_H
#define QOPT_CONVERSION_CPU_PROGRAMBUILDER_H

#include "../ArenaPlan.h"
#include "qopt/Conversion/QntToLLVM.h"
#include "qopt/Support/OpTable.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/StringMap.h"

#include <map>
#include <vector>

namespace qopt::cpu {

class ProgramBuilder;

/// How each op is lowered, by op name; every family adds its ops.
using LoweringTable = OpTable<ProgramBuilder>;

// The op families (one file each).
void addNormLowerings(LoweringTable &table);        // LowerNormOps.cpp
void addLinearLowerings(LoweringTable &table);      // LowerLinearOps.cpp
void addAttentionLowerings(LoweringTable &table);   // LowerAttentionOps.cpp
void addElementwiseLowerings(LoweringTable &table); // LowerElementwiseOps.cpp

class ProgramBuilder {
public:
  ProgramBuilder(mlir::ModuleOp src, const CpuOptions &options);

  llvm::Expected<CpuProgram> build();

  // --- for the op families ---
  mlir::OpBuilder b;
  mlir::Location loc;
  mlir::Type f32, i64, ptr;
  const CpuOptions options;

  /// A call to a runtime kernel declared in declareRuntime().
  mlir::LLVM::CallOp call(llvm::StringRef name, llvm::ArrayRef<mlir::Value> args);
  mlir::Value constI64(int64_t v);
  mlir::Value constF32(float v);
  /// The address of a constant f32 array in the program (one global per
  /// distinct content).
  mlir::Value constF32Array(llvm::ArrayRef<float> values);
  mlir::Value nullPointer();
  mlir::Value mulF(mlir::Value a, mlir::Value c);
  /// 1 / (1 + exp(-x)), the executor's association.
  mlir::Value sigmoid(mlir::Value x);

  /// The generated function's arguments: the runtime context, the token
  /// ids, their count, the first position.
  mlir::Value ctxArg, tokensArg, nArg, posArg;
  /// The qnt forward function being lowered.
  mlir::func::FuncOp forward() const { return fwd; }

  /// Slot index of the parameter behind `weight`; `gathered` when only rows
  /// of it are read (an embedding table).
  llvm::Expected<int64_t> slotOf(mlir::Value weight, bool gathered = false);
  /// The pointer an activation value lives at.
  mlir::Value bufferOf(mlir::Value v) { return buffers.lookup(v); }
  /// Gives `v` its planned arena slice (or the logits buffer).
  mlir::Value allocate(mlir::Value v);
  /// The scratch slice the arena plan gave a fused op.
  mlir::Value tempOf(mlir::Operation *op);

  /// out[i] = body(in_0[i], in_1[i], ...) for i < n * rowWidth, as a loop.
  void elementwise(llvm::ArrayRef<mlir::Value> inputs, mlir::Value out, int64_t rowWidth,
                   llvm::function_ref<mlir::Value(llvm::ArrayRef<mlir::Value>)> body);

  /// "'OP' is not supported by the CPU target: why".
  llvm::Error unsupported(mlir::Operation *op, const llvm::Twine &why = "");

  static int64_t width(mlir::Value v) {
    return mlir::cast<mlir::RankedTensorType>(v.getType()).getShape().back();
  }

private:
  mlir::ModuleOp src;
  int64_t chunk;
  mlir::MLIRContext *ctx;
  mlir::func::FuncOp fwd;
  mlir::Value logitsArg, arena;
  ArenaPlan arenaPlan;
  LoweringTable lowerings;
  llvm::DenseMap<mlir::Value, mlir::Value> buffers;
  std::vector<WeightSlot> slots;
  llvm::StringMap<int64_t> slotIndex;
  llvm::StringMap<mlir::LLVM::LLVMFuncOp> runtime;
  std::map<std::vector<float>, std::string> constArrays; // content -> global name

  void declare(llvm::StringRef name, mlir::Type result, llvm::ArrayRef<mlir::Type> args);
  void declareRuntime();
  llvm::Error lower(mlir::Operation *op);
  void emitConfig(CpuProgram &program);
};

} // namespace qopt::cpu

#endif
