//===- QntDialect.h - the qnt dialect ---------------------------*- C++ -*-===//
#ifndef QNT_IR_QNTDIALECT_H
#define QNT_IR_QNTDIALECT_H

#include "Qnt/IR/QntAttrNames.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include <memory>

namespace qopt {
class ParameterStore;
struct CalibrationSet;
class ProgressSink;
} // namespace qopt

#include "Qnt/IR/QntDialect.h.inc"
#include "Qnt/IR/QntEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "Qnt/IR/QntAttrs.h.inc"

#define GET_TYPEDEF_CLASSES
#include "Qnt/IR/QntTypes.h.inc"

#include "Qnt/IR/QntInterfaces.h.inc"

#define GET_OP_CLASSES
#include "Qnt/IR/QntOps.h.inc"

#endif // QNT_IR_QNTDIALECT_H
