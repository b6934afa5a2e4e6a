//===- QntDialect.td - the qnt quantization dialect --------*- tablegen -*-===//
#ifndef QNT_DIALECT_TD
#define QNT_DIALECT_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def Qnt_Dialect : Dialect {
  let name = "qnt";
  let cppNamespace = "::qopt::qnt";
  let summary = "Transformer-level ops for quantized language models";
  let description = [{
    Ops at the level of a transformer block (embedding, rms_norm, linear, rope,
    attention with a KV cache, swiglu, ...). Weights are not inline constants:
    `qnt.param` names a tensor in the parameter store that the dialect instance
    owns for the duration of a compilation (see ParameterStore.h).
  }];
  let useDefaultTypePrinterParser = 1;
  let useDefaultAttributePrinterParser = 1;
  let extraClassDeclaration = [{
    /// The parameter store that `qnt.param` ops resolve against, if a tool
    /// attached one (qopt-opt --params, qopt). Null otherwise.
    std::shared_ptr<::qopt::ParameterStore> getParameterStore() const { return store; }
    void setParameterStore(std::shared_ptr<::qopt::ParameterStore> s) { store = std::move(s); }
    /// Calibration sequences for data-driven passes (qopt-opt --calib,
    /// qopt compile --calib). Null when the tool was given none.
    std::shared_ptr<const ::qopt::CalibrationSet> getCalibrationSet() const { return calib; }
    void setCalibrationSet(std::shared_ptr<const ::qopt::CalibrationSet> c) { calib = std::move(c); }
    /// Where long passes report progress (qopt compile); null: nowhere.
    std::shared_ptr<::qopt::ProgressSink> getProgressSink() const { return progress; }
    void setProgressSink(std::shared_ptr<::qopt::ProgressSink> p) { progress = std::move(p); }
  private:
    std::shared_ptr<::qopt::ParameterStore> store;
    std::shared_ptr<const ::qopt::CalibrationSet> calib;
    std::shared_ptr<::qopt::ProgressSink> progress;
  public:
    void registerTypes();
    void registerAttrs();
  }];
}

class Qnt_Op<string mnemonic, list<Trait> traits = []>
    : Op<Qnt_Dialect, mnemonic, traits>;

#endif // QNT_DIALECT_TD
