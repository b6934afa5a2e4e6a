//===- Passes.td - qopt passes ------------------------------*- tablegen -*-===//
#ifndef QOPT_PASSES_TD
#define QOPT_PASSES_TD

include "mlir/Pass/PassBase.td"

def QntCheckParams : Pass<"qnt-check-params", "mlir::ModuleOp"> {
  let summary = "Check every qnt.param against the attached parameter store";
  let description = [{
    Fails, naming the parameter, when a `qnt.param` refers to a tensor that
    the parameter store lacks or holds with another shape or element type.
    With `report`, also attaches `qnt.param_bytes` (total bytes referenced) to
    the module so that tests and tools can see what was resolved.
    The tool attaches the store (qopt-opt --params FILE); this pass reads no
    files itself.
  }];
  let options = [
    Option<"report", "report", "bool", /*default=*/"false",
           "Attach qnt.param_bytes to the module">
  ];
  let dependentDialects = ["qopt::qnt::QntDialect"];
}

#endif // QOPT_PASSES_TD
