//===- QntInterfaces.td - qnt op interfaces ------------------*- tablegen -*-===//
#ifndef QNT_INTERFACES_TD
#define QNT_INTERFACES_TD

include "mlir/IR/OpBase.td"

def Qnt_LinearFamilyOpInterface : OpInterface<"LinearFamilyOpInterface"> {
  let description = [{
    An op that multiplies one activation input by one or more weights, each
    [out_features, in_features] (qnt.linear, qnt.multi_linear,
    qnt.swiglu_linear). The fusion passes and the targets ask the same
    things of all of them: which input, which weights. qnt.lm_head is kept
    out on purpose: passes treat the classifier on its own.
  }];
  let cppNamespace = "::qopt::qnt";
  let methods = [
    InterfaceMethod<"The activation the weights multiply.", "::mlir::Value", "getLinearInput">,
    InterfaceMethod<"The weights, in the order of the op's results.",
                    "::llvm::SmallVector<::mlir::Value, 3>", "getLinearWeights">
  ];
}

#endif // QNT_INTERFACES_TD
