//===- QntDialect.cpp - qnt dialect registration ---------------------------===//
#include "Qnt/IR/QntDialect.h"

#include "qopt/Support/ParameterStore.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace qopt::qnt;

#include "Qnt/IR/QntDialect.cpp.inc"
#include "Qnt/IR/QntEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "Qnt/IR/QntAttrs.cpp.inc"

void QntDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "Qnt/IR/QntOps.cpp.inc"
      >();
  registerTypes();
  registerAttrs();
}

void QntDialect::registerAttrs() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "Qnt/IR/QntAttrs.cpp.inc"
      >();
}
