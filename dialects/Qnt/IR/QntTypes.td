//===- QntTypes.td - qnt types and attributes ---------------*- tablegen -*-===//
#ifndef QNT_TYPES_TD
#define QNT_TYPES_TD

include "Qnt/IR/QntDialect.td"

def Qnt_RopeStyle : I32EnumAttr<"RopeStyle", "how rotary embedding pairs lanes", [
    // llama2.c / Meta: lanes (2i, 2i+1) form a pair.
    I32EnumAttrCase<"Interleaved", 0, "interleaved">,
    // Hugging Face: lanes (i, i + head_dim/2) form a pair (q/k rows permuted).
    I32EnumAttrCase<"RotateHalf", 1, "rotate_half">]> {
  let cppNamespace = "::qopt::qnt";
  let genSpecializedAttr = 0;
}
def Qnt_RopeStyleAttr : EnumAttr<Qnt_Dialect, Qnt_RopeStyle, "rope_style">;

def Qnt_WeightFormat : I32EnumAttr<"WeightFormat", "how weight codes map to values", [
    // Uniform affine grid: w = (q - zero) * scale.
    I32EnumAttrCase<"Int", 0, "int">,
    // QLoRA NormalFloat-4: w = nf4_level[q] * absmax of the group.
    I32EnumAttrCase<"NF4", 1, "nf4">]> {
  let cppNamespace = "::qopt::qnt";
  let genSpecializedAttr = 0;
}

def Qnt_WeightQuantAttr : AttrDef<Qnt_Dialect, "WeightQuant"> {
  let mnemonic = "weight_quant";
  let summary = "how a quantized weight is stored in the parameter store";
  let description = [{
    Describes the tensors behind a `qnt.qparam` named N (see QuantScheme.h):
    - `N.qweight`: ui8 [rows, packed bytes]; each row's `bits`-bit codes,
      little-endian bit order, the row padded to a whole byte.
    - `N.scales`: f16 [rows, groups] (int, and nf4 without double_quant).
      With double_quant the scales are themselves quantized: `N.scales_q`
      (i8 [rows, groups]), `N.scales_scale` (f32, one per 256 scales) and
      `N.scales_mean` (f32 [1]).
    - `N.zeros`: ui8 [rows, packed bytes] of `bits`-bit zero points
      (asymmetric int only).
    - `N.outlier_index` (i32 [k]) and `N.outlier_weight` (f16 [rows, k]):
      input channels kept in 16-bit (LLM.int8 decomposition), `outliers` = k.
    `group_size` 0 means one group per row (per output channel); -1 means
    one group for the whole tensor. When the group size does not divide a
    row, its last group absorbs the remainder (172 = 4 x 32 + 44).
  }];
  let parameters = (ins EnumParameter<Qnt_WeightFormat>:$format, "int64_t":$bits,
                        "int64_t":$group_size, "bool":$symmetric,
                        "bool":$double_quant, "int64_t":$outliers);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def Qnt_KVCacheType : TypeDef<Qnt_Dialect, "KVCache"> {
  let mnemonic = "kv_cache";
  let summary = "per-layer key/value cache of a decoder";
  let description = [{
    Storage for the keys and values of every attention layer:
    `layers x max_seq_len x kv_heads x head_dim` elements each for K and V.
    `qnt.attention` writes the current positions' K/V into it and reads all
    earlier positions back, so prefill and decode share one entry point.
  }];
  let parameters = (ins "int64_t":$layers, "int64_t":$max_seq_len,
                        "int64_t":$kv_heads, "int64_t":$head_dim,
                        "::mlir::Type":$element_type);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

#endif // QNT_TYPES_TD
