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
