//===- OpTable.h - what to do with each op, by op name -----------*- C++ -*-===//
//
// The executor and the CPU lowering both handle ops family by family: each
// family's file adds its ops to a table, and the driver loop looks the op
// up. A new op is one entry in one family, not a case in a god switch.
//
//===----------------------------------------------------------------------===//
#ifndef QOPT_SUPPORT_OPTABLE_H
#define QOPT_SUPPORT_OPTABLE_H

#include "mlir/IR/Operation.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"

#include <functional>

namespace qopt {

/// Maps op names to handlers taking a `Context &` and the op.
template <typename Context>
class OpTable {
public:
  using Handler = std::function<llvm::Error(Context &, mlir::Operation *)>;

  template <typename OpT>
  void add(std::function<llvm::Error(Context &, OpT)> handle) {
    table[OpT::getOperationName()] = [handle](Context &c, mlir::Operation *op) {
      return handle(c, mlir::cast<OpT>(op));
    };
  }
  const Handler *find(mlir::Operation *op) const {
    auto it = table.find(op->getName().getStringRef());
    return it == table.end() ? nullptr : &it->second;
  }

private:
  llvm::StringMap<Handler> table;
};

} // namespace qopt

#endif
