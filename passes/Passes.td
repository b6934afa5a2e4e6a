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

// Weight scheme options shared by the weight-quantizing passes.
defvar WeightSchemeOptions = [
    Option<"format", "format", "std::string", /*default=*/"\"int\"",
           "Code format: int (uniform grid) or nf4 (QLoRA NormalFloat-4)">,
    Option<"bits", "bits", "int64_t", /*default=*/"4", "Bits per weight code (2-8)">,
    Option<"groupSize", "group-size", "int64_t", /*default=*/"32",
           "Input channels per scale; 0 = per output channel, -1 = per tensor">,
    Option<"symmetric", "symmetric", "bool", /*default=*/"true",
           "Symmetric grid (no zero point) instead of asymmetric (min/max)">
];

def QntQuantizeWeights : Pass<"qnt-quantize-weights", "mlir::ModuleOp"> {
  let summary = "Round-to-nearest weight quantization of every linear (RTN, NF4)";
  let description = [{
    Replaces the float weight of every `qnt.linear` with a `qnt.qparam`
    whose packed codes, scales and zero points go to the parameter store.
    A linear carrying `qnt.weight_scheme` (from mixed precision) uses that
    scheme instead of the options. When the group size does not divide a
    row, the row's last group absorbs the remainder. `clip-search` picks each group's range
    shrink (1.0 down to 0.5) minimizing the weight MSE. With calibration
    data attached the recorded error is the relative output error, else the
    relative weight error.
  }];
  let options = WeightSchemeOptions # [
    Option<"doubleQuant", "double-quant", "bool", /*default=*/"false",
           "nf4: quantize the scales again (QLoRA double quantization)">,
    Option<"clipSearch", "clip-search", "bool", /*default=*/"false",
           "Search each group's clipping range for the least weight MSE">
  ];
  let dependentDialects = ["qopt::qnt::QntDialect"];
}

def QntQuantizeLmHead : Pass<"qnt-quantize-lm-head", "mlir::ModuleOp"> {
  let summary = "Quantize the classifier (qnt.lm_head), per output channel or per group";
  let description = [{
    Round to nearest, symmetric, one scale per vocabulary row (group-size 0)
    or per group of input channels. The weight passes leave the classifier
    in float; decode reads it whole every step, so on small models it is
    most of the bytes. A tied classifier gets its own quantized copy; the
    embedding keeps its float table.
  }];
  let options = [
    Option<"bits", "bits", "int64_t", /*default=*/"8", "Bits per code (2-8)">,
    Option<"groupSize", "group-size", "int64_t", /*default=*/"0",
           "Input channels per scale; 0 = per output channel">
  ];
  let dependentDialects = ["qopt::qnt::QntDialect"];
}

def QntKVCache : Pass<"qnt-kv-cache", "mlir::ModuleOp"> {
  let summary = "Choose the KV cache's element type (f16 halves its memory and traffic)";
  let description = [{
    Rewrites the `!qnt.kv_cache` argument of every function to the given
    element type. With f16, keys and values are rounded to half precision
    (nearest even) when stored; with i8, each (position, KV head) row of
    head_dim values becomes symmetric int8 codes round(x / s), s = max|x| /
    127, with its f32 scale. The executor and the targets read the stored
    values back.
  }];
  let options = [
    Option<"elementType", "element-type", "std::string", /*default=*/"\"f16\"", "f32, f16 or i8">
  ];
  let dependentDialects = ["qopt::qnt::QntDialect", "mlir::func::FuncDialect"];
}

def QntGPTQ : Pass<"qnt-gptq", "mlir::ModuleOp"> {
  let summary = "GPTQ: Hessian-guided rounding with Cholesky-based error feedback";
  let description = [{
    Frantar et al. 2022 (arXiv 2210.17323), Algorithm 1: H = 2 X^T X from
    calibration data, dampening lambda = damp * mean(diag H) (multiplied by
    10 and retried, with a warning, while H stays indefinite), the upper
    Cholesky factor of H^-1, columns quantized in blocks of `block-size`
    with lazy batch updates. `act-order` visits columns by decreasing
    diag(H); groups stay contiguous in the original column order, their
    parameters fixed when the first of their columns is quantized (or, with
    `static-groups`, from the unmodified weights up front), so the stored
    format needs no group index. `true-sequential` recomputes each linear's
    Hessian on the model with everything before it already quantized.
  }];
  let options = WeightSchemeOptions # [
    Option<"damp", "damp", "double", /*default=*/"0.01",
           "Dampening as a fraction of the mean Hessian diagonal">,
    Option<"blockSize", "block-size", "int64_t", /*default=*/"128",
           "Columns per lazy-update block">,
    Option<"actOrder", "act-order", "bool", /*default=*/"false",
           "Quantize columns in order of decreasing Hessian diagonal">,
    Option<"staticGroups", "static-groups", "bool", /*default=*/"false",
           "Fix group parameters from the unmodified weights before GPTQ runs">,
    Option<"trueSequential", "true-sequential", "bool", /*default=*/"true",
           "Collect each linear's Hessian after the linears before it are quantized">,
    Option<"clipSearch", "clip-search", "bool", /*default=*/"false",
           "Pick each group's range by least weight MSE (shrink 1.0 .. 0.5)">
  ];
  let dependentDialects = ["qopt::qnt::QntDialect"];
}

def QntAWQ : Pass<"qnt-awq", "mlir::ModuleOp"> {
  let summary = "AWQ: activation-aware per-channel weight scaling and clipping search";
  let description = [{
    Lin et al. 2023 (arXiv 2306.00978). For every group of linears reading
    one input that can absorb a per-channel scale (see findScaleGroups),
    searches s = mean|x|^alpha (normalized), alpha on a grid of `grid`
    points in [0, 1), for the least output error of the quantized linears
    (sum over them of |(W - Q(W s)/s) X|^2, from the calibration Hessian),
    and folds the best s into the producing rms_norm or linear. Then, with
    `clip`, searches each weight group's clipping range (1.0 down to
    1 - `max-shrink`) for the least output error and clamps the weights.
    The weights stay float: a quantizing pass (RTN or GPTQ) follows with the
    same scheme.
  }];
  let options = WeightSchemeOptions # [
    Option<"grid", "grid", "int64_t", /*default=*/"20", "Alpha grid points">,
    Option<"clip", "clip", "bool", /*default=*/"true", "Search weight clipping ranges">,
    Option<"maxShrink", "max-shrink", "double", /*default=*/"0.5",
           "Largest fraction of the range the clip search may cut">
  ];
  let dependentDialects = ["qopt::qnt::QntDialect"];
}

def QntSmoothQuant : Pass<"qnt-smoothquant", "mlir::ModuleOp"> {
  let summary = "SmoothQuant: migrate activation outliers into the weights";
  let description = [{
    Xiao et al. 2022 (arXiv 2211.10438). For every group of linears whose
    input can absorb a per-channel scale, s_j = max|X_j|^alpha /
    max|W_j|^(1-alpha) (max over the group's weights), folded into the
    producing rms_norm weight or linear rows; the float function is
    unchanged. `alpha-search` picks alpha per group on a grid of 0.05 for
    the least W8A8 output error on calibration rows.
  }];
  let options = [
    Option<"alpha", "alpha", "double", /*default=*/"0.5", "Migration strength in [0, 1]">,
    Option<"alphaSearch", "alpha-search", "bool", /*default=*/"false",
           "Search alpha per group for the least W8A8 error">
  ];
  let dependentDialects = ["qopt::qnt::QntDialect"];
}

def QntQuantizeActivations : Pass<"qnt-quantize-activations", "mlir::ModuleOp"> {
  let summary = "Insert activation quantization at every linear's input (calibrated)";
  let description = [{
    `static`: calibrates one symmetric per-tensor scale per linear input
    (observer minmax, percentile or mse) and inserts quant.qcast / quant.dcast
    with a !quant.uniform<i8<-127:127>:f32, scale> type. `dynamic`: inserts
    qnt.dynamic_quant (per-token scales at run time); needs no calibration.
  }];
  let options = [
    Option<"mode", "mode", "std::string", /*default=*/"\"static\"", "static or dynamic">,
    Option<"bits", "bits", "int64_t", /*default=*/"8", "Activation bits (2-8)">,
    Option<"observer", "observer", "std::string", /*default=*/"\"minmax\"",
           "Static range observer: minmax, percentile or mse">,
    Option<"percentile", "percentile", "double", /*default=*/"99.99",
           "Percentile of |x| for the percentile observer">
  ];
  let dependentDialects = ["qopt::qnt::QntDialect", "mlir::quant::QuantDialect"];
}

def QntLLMInt8 : Pass<"qnt-llm-int8", "mlir::ModuleOp"> {
  let summary = "LLM.int8(): int8 weights and activations with 16-bit outlier channels";
  let description = [{
    Dettmers et al. 2022 (arXiv 2208.07339). Input channels whose calibrated
    magnitude exceeds `threshold` are outliers: their weight columns stay in
    16 bit and their activations bypass quantization; the rest is int8
    per output channel (weights) and per token (activations).
  }];
  let options = [
    Option<"threshold", "threshold", "double", /*default=*/"6.0",
           "Activation magnitude above which a channel is an outlier">
  ];
  let dependentDialects = ["qopt::qnt::QntDialect"];
}

def QntMixedPrecision : Pass<"qnt-mixed-precision", "mlir::ModuleOp"> {
  let summary = "Choose each linear's weight scheme for a bits-per-weight budget";
  let description = [{
    Measures each linear's sensitivity for every candidate scheme: the
    mean KL divergence of the next-token distribution from the float
    model's, on calibration data, when only that linear is
    quantized (round to nearest, or GPTQ with `quantizer=gptq`). Then picks one candidate per linear with
    the least summed increase whose bits per weight (scales counted) over
    all linears stay within `target-bpw` (greedy by loss saved per bit), and
    marks each linear with `qnt.weight_scheme`; a quantizing pass follows.
  }];
  let options = [
    Option<"targetBpw", "target-bpw", "double", /*default=*/"4.5",
           "Budget: mean bits per weight over all linears">,
    Option<"candidates", "candidates", "std::string",
           /*default=*/"\"int3:g32:sym,int4:g64:asym,int4:g32:sym,int8:g0:sym\"",
           "Comma-separated candidate schemes, FORMATBITS:gGROUP:sym|asym">,
    Option<"samples", "samples", "int64_t", /*default=*/"8",
           "Calibration sequences used to measure sensitivity">,
    Option<"quantizer", "quantizer", "std::string", /*default=*/"\"rtn\"",
           "How each candidate is quantized while measuring: rtn, or gptq "
           "(act-order, clip search, Hessian from the float model), which "
           "ranks candidates the way a following qnt-gptq will see them">
  ];
  let dependentDialects = ["qopt::qnt::QntDialect"];
}

//===----------------------------------------------------------------------===//
// Fusion (passes/Fusion). Run after quantization, before a target lowers the
// module; `qnt-fuse` runs all four in order. Each keeps the function's value
// bit for bit in the reference executor.
//===----------------------------------------------------------------------===//

def QntFuseSwiglu : Pass<"qnt-fuse-swiglu", "mlir::ModuleOp"> {
  let summary = "Merge the gate and up linears feeding qnt.swiglu into qnt.swiglu_linear";
  let description = [{
    swiglu(linear(x, Wg), linear(x, Wu)) becomes swiglu_linear(x, Wg, Wu)
    when both linears are bias-free, read the same input, have the same
    weight shape and have no other users.
  }];
  let dependentDialects = ["qopt::qnt::QntDialect"];
}

def QntFuseLinears : Pass<"qnt-fuse-linears", "mlir::ModuleOp"> {
  let summary = "Merge linears that read one value into qnt.multi_linear (q/k/v)";
  let description = [{
    The qnt.linear ops of one block that read the same value become one
    qnt.multi_linear at the place of the first, so that the input is read
    (and quantized) once. Biased linears (Qwen2's q/k/v) merge with each
    other, keeping their biases, and bias-free ones with each other. Weights
    and biases are moved up when they are defined later.
  }];
  let options = [
    Option<"maxGroup", "max-group", "int64_t", /*default=*/"3",
           "Most linears merged into one op (at least 2)">
  ];
  let dependentDialects = ["qopt::qnt::QntDialect"];
}

def QntFuseResidualNorm : Pass<"qnt-fuse-residual-norm", "mlir::ModuleOp"> {
  let summary = "Merge a residual qnt.add with the qnt.rms_norm of its sum into qnt.add_rms_norm";
  let dependentDialects = ["qopt::qnt::QntDialect"];
}

def QntFuseNormQuant : Pass<"qnt-fuse-norm-quant", "mlir::ModuleOp"> {
  let summary = "Fold the per-token activation quantization after a norm into the norm";
  let description = [{
    rms_norm (or add_rms_norm) whose only user is a qnt.dynamic_quant with
    8 bits and no kept channels, all of whose users are linears of int8
    weights, gets `quant_bits = 8` and the dynamic_quant goes: the norm
    emits int8 codes the W8A8 kernels read directly. LLM.int8 quantizers
    (kept outlier channels) stay as they are.
  }];
  let dependentDialects = ["qopt::qnt::QntDialect"];
}

#endif // QOPT_PASSES_TD
