//===- QntOps.td - qnt operations ---------------------------*- tablegen -*-===//
//
// Transformer-level ops. Activations are ranked tensors whose last dimension
// is the feature dimension; leading dimensions (usually the sequence) may be
// dynamic. Weights follow the PyTorch convention: a linear's weight is
// [out_features, in_features] and y = x W^T (+ b).
//
//===----------------------------------------------------------------------===//
#ifndef QNT_OPS_TD
#define QNT_OPS_TD

include "Qnt/IR/QntTypes.td"
include "Qnt/IR/QntInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/IR/OpBase.td"

def Qnt_FloatTensor : RankedTensorOf<[F32, F16, BF16]>;
def Qnt_TokenTensor : RankedTensorOf<[I32]>;

def Qnt_ParamOp : Qnt_Op<"param", [Pure]> {
  let summary = "a named tensor from the parameter store";
  let description = [{
    Refers to the tensor `name` in the parameter store. The result type gives
    the tensor's static shape and element type; the store must agree.
  }];
  let arguments = (ins StrAttr:$name);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Qnt_QParamOp : Qnt_Op<"qparam", [Pure]> {
  let summary = "a quantized weight from the parameter store, as floats";
  let description = [{
    The dequantized value of the packed weight `name` (layout in
    `#qnt.weight_quant`). The result is the float tensor a linear consumes;
    the reference executor dequantizes it exactly as the compiled kernels do
    (code to float in f32, with f16 scales), which is the fake-quant
    semantics every quantized scheme is evaluated with.
  }];
  let arguments = (ins StrAttr:$name, Qnt_WeightQuantAttr:$scheme);
  let results = (outs RankedTensorOf<[F32]>:$result);
  let assemblyFormat = "$name $scheme attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Qnt_DynamicQuantOp : Qnt_Op<"dynamic_quant", [Pure, SameOperandsAndResultType]> {
  let summary = "per-token dynamic symmetric activation quantization (fake-quant)";
  let description = [{
    Each row (token) x is rounded to `bits`-bit signed integers with scale
    max|x| / (2^(bits-1) - 1), and returned dequantized. Channels listed in
    `keep_channels` bypass quantization (LLM.int8 outlier columns) and do not
    count towards the row's max.
  }];
  let arguments = (ins Qnt_FloatTensor:$input, I64Attr:$bits,
                       OptionalAttr<DenseI64ArrayAttr>:$keep_channels);
  let results = (outs Qnt_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Qnt_EmbeddingOp : Qnt_Op<"embedding", [Pure]> {
  let summary = "row gather: result[i] = table[tokens[i]]";
  let arguments = (ins Qnt_TokenTensor:$tokens, Qnt_FloatTensor:$table);
  let results = (outs Qnt_FloatTensor:$result);
  let assemblyFormat =
      "$tokens `,` $table attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Qnt_RmsNormOp : Qnt_Op<"rms_norm", [Pure]> {
  let summary = "y = w * x / sqrt(mean(x^2) + eps) over the last dimension";
  let description = [{
    With `quant_bits` (set by qnt-fuse-norm-quant), the result is also
    quantized per token as by qnt.dynamic_quant with those bits: the norm
    and the activation quantization of the linears it feeds are one op, and
    a target may hand the linears integer codes directly.
  }];
  let arguments = (ins Qnt_FloatTensor:$input, Qnt_FloatTensor:$weight,
                       F32Attr:$eps, OptionalAttr<I64Attr>:$quant_bits);
  let results = (outs Qnt_FloatTensor:$result);
  let assemblyFormat =
      "$input `,` $weight attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Qnt_LinearOp : Qnt_Op<"linear",
    [Pure, DeclareOpInterfaceMethods<Qnt_LinearFamilyOpInterface>]> {
  let summary = "y = x W^T + b, W is [out_features, in_features]";
  let arguments = (ins Qnt_FloatTensor:$input, Qnt_FloatTensor:$weight,
                       Optional<Qnt_FloatTensor>:$bias);
  let results = (outs Qnt_FloatTensor:$result);
  let assemblyFormat = "$input `,` $weight (`,` $bias^)? attr-dict `:` "
                       "functional-type(operands, results)";
  let hasVerifier = 1;
}

def Qnt_MultiLinearOp : Qnt_Op<"multi_linear",
    [Pure, AttrSizedOperandSegments,
     DeclareOpInterfaceMethods<Qnt_LinearFamilyOpInterface>]> {
  let summary = "several linears of one input: result i = x W_i^T (+ b_i)";
  let description = [{
    Made by qnt-fuse-linears from linears that read the same value (q, k and
    v of an attention block). A target reads, and quantizes, the input once
    and runs the rows of every weight in one parallel pass. The weights may
    have different schemes. `biases` is empty or holds one bias per weight
    (Qwen2's q/k/v), each added to its own result.
  }];
  let arguments = (ins Qnt_FloatTensor:$input, Variadic<Qnt_FloatTensor>:$weights,
                       Variadic<Qnt_FloatTensor>:$biases);
  let results = (outs Variadic<Qnt_FloatTensor>:$results);
  let assemblyFormat =
      "$input `,` $weights (`bias` `(` $biases^ `)`)? attr-dict `:` "
      "functional-type(operands, results)";
  let hasVerifier = 1;
}

def Qnt_SwigluLinearOp : Qnt_Op<"swiglu_linear",
    [Pure, DeclareOpInterfaceMethods<Qnt_LinearFamilyOpInterface>]> {
  let summary = "silu(x Wg^T) * (x Wu^T): the gate and up projections with SwiGLU";
  let description = [{
    Made by qnt-fuse-swiglu from two linears of one input feeding qnt.swiglu.
    A target computes matching gate and up rows together and applies SwiGLU
    while they are in cache; neither projection is written out whole.
  }];
  let arguments = (ins Qnt_FloatTensor:$input, Qnt_FloatTensor:$gate_weight,
                       Qnt_FloatTensor:$up_weight);
  let results = (outs Qnt_FloatTensor:$result);
  let assemblyFormat = "$input `,` $gate_weight `,` $up_weight attr-dict `:` "
                       "functional-type(operands, results)";
  let hasVerifier = 1;
}

def Qnt_AddRmsNormOp : Qnt_Op<"add_rms_norm", [Pure]> {
  let summary = "sum = lhs + rhs; result = rms_norm(sum): a residual add and the next norm";
  let description = [{
    Made by qnt-fuse-residual-norm. Both the sum (the residual stream, read
    by the next residual add) and its normalization are results, computed in
    one pass over the row. `quant_bits` as on qnt.rms_norm.
  }];
  let arguments = (ins Qnt_FloatTensor:$lhs, Qnt_FloatTensor:$rhs,
                       Qnt_FloatTensor:$weight, F32Attr:$eps,
                       OptionalAttr<I64Attr>:$quant_bits);
  let results = (outs Qnt_FloatTensor:$sum, Qnt_FloatTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs `,` $weight attr-dict `:` "
                       "functional-type(operands, results)";
  let hasVerifier = 1;
}

def Qnt_MatMulOp : Qnt_Op<"matmul", [Pure]> {
  let summary = "plain matrix product of [M, K] and [K, N]";
  let arguments = (ins Qnt_FloatTensor:$lhs, Qnt_FloatTensor:$rhs);
  let results = (outs Qnt_FloatTensor:$result);
  let assemblyFormat =
      "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Qnt_LmHeadOp : Qnt_Op<"lm_head", [Pure]> {
  let summary = "the classifier: logits = x W^T, W is [vocab, dim]";
  let description = [{
    Semantically a bias-free linear. Kept apart so that passes can treat the
    classifier on its own (it is often tied to the embedding table and kept in
    higher precision).
  }];
  let arguments = (ins Qnt_FloatTensor:$input, Qnt_FloatTensor:$weight);
  let results = (outs Qnt_FloatTensor:$result);
  let assemblyFormat =
      "$input `,` $weight attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Qnt_RopeOp : Qnt_Op<"rope", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "rotary position embedding of each head, positions pos, pos+1, ...";
  let description = [{
    `input` is [seq, heads * head_dim]; row i holds position `pos + i`. Lane
    pair j (of head_dim / 2) rotates by angle position * theta^(-2j/head_dim).
    `style` says which lanes form pair j: interleaved (2j, 2j+1), as in
    llama2.c and Meta's checkpoints, or rotate_half (j, j + head_dim/2), as in
    Hugging Face checkpoints whose q/k rows are permuted.

    `freq_scale`, when present, multiplies pair j's frequency: rope scaling
    (Llama 3's `rope_type: llama3`, `linear`) as the importer computed it
    from config.json, head_dim / 2 positive values.
  }];
  let arguments = (ins Qnt_FloatTensor:$input, Index:$pos, I64Attr:$head_dim,
                       F32Attr:$theta, Qnt_RopeStyleAttr:$style,
                       OptionalAttr<DenseF32ArrayAttr>:$freq_scale);
  let results = (outs Qnt_FloatTensor:$result);
  let assemblyFormat =
      "$input `[` $pos `]` $style attr-dict `:` type($input)";
  let hasVerifier = 1;
}

def Qnt_AttentionOp : Qnt_Op<"attention"> {
  let summary = "causal multi-head attention with grouped-query heads and a KV cache";
  let description = [{
    q is [seq, num_heads * head_dim]; k and v are [seq, num_kv_heads * head_dim]
    for positions pos .. pos+seq-1. The op stores k and v into layer `layer`
    of the cache, then each query row at position p attends to cached
    positions 0..p (causal). Query head h reads KV head
    h / (num_heads / num_kv_heads). Scores are scaled by `scale`
    (default 1/sqrt(head_dim)). With `window` W (Mistral's sliding_window),
    position p attends only to positions p-W+1..p: W positions, as Hugging
    Face's masks give.
  }];
  let arguments = (ins Qnt_FloatTensor:$q, Qnt_FloatTensor:$k,
                       Qnt_FloatTensor:$v,
                       Arg<Qnt_KVCacheType, "the cache", [MemRead, MemWrite]>:$cache,
                       Index:$pos, I64Attr:$layer, I64Attr:$num_heads,
                       I64Attr:$num_kv_heads, I64Attr:$head_dim,
                       OptionalAttr<F32Attr>:$scale, OptionalAttr<I64Attr>:$window);
  let results = (outs Qnt_FloatTensor:$result);
  let assemblyFormat = [{
    $q `,` $k `,` $v `,` $cache `[` $pos `]` attr-dict `:` type($q) `,`
    type($k) `,` type($v) `,` qualified(type($cache)) `->` type($result)
  }];
  let hasVerifier = 1;
}

class Qnt_UnaryOp<string mnemonic, string summaryText>
    : Qnt_Op<mnemonic, [Pure, SameOperandsAndResultType]> {
  let summary = summaryText;
  let arguments = (ins Qnt_FloatTensor:$input);
  let results = (outs Qnt_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
}

class Qnt_BinaryOp<string mnemonic, string summaryText>
    : Qnt_Op<mnemonic, [Pure, SameOperandsAndResultType]> {
  let summary = summaryText;
  let arguments = (ins Qnt_FloatTensor:$lhs, Qnt_FloatTensor:$rhs);
  let results = (outs Qnt_FloatTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

def Qnt_SiluOp : Qnt_UnaryOp<"silu", "x * sigmoid(x)">;

def Qnt_GeluOp : Qnt_Op<"gelu", [Pure, SameOperandsAndResultType]> {
  let summary = "GELU, exact (erf) or with the tanh approximation";
  let arguments = (ins Qnt_FloatTensor:$input, UnitAttr:$approximate_tanh);
  let results = (outs Qnt_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
}

def Qnt_SwigluOp : Qnt_Op<"swiglu", [Pure, SameOperandsAndResultType]> {
  let summary = "silu(gate) * up";
  let arguments = (ins Qnt_FloatTensor:$gate, Qnt_FloatTensor:$up);
  let results = (outs Qnt_FloatTensor:$result);
  let assemblyFormat = "$gate `,` $up attr-dict `:` type($result)";
}

def Qnt_AddOp : Qnt_BinaryOp<"add", "elementwise sum (residual connections)">;
def Qnt_MulOp : Qnt_BinaryOp<"mul", "elementwise product">;

#endif // QNT_OPS_TD
