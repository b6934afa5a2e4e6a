// RUN: qopt-opt %s | FileCheck %s
// RUN: qopt-opt %s | qopt-opt | FileCheck %s
// RUN: qopt-opt %s --mlir-print-op-generic | qopt-opt | FileCheck %s

// CHECK-LABEL: func.func @block
func.func @block(%tokens: tensor<?xi32>, %pos: index,
                 %cache: !qnt.kv_cache<layers = 1, max_seq_len = 16, kv_heads = 2, head_dim = 4, element_type = f32>)
    -> tensor<?x32xf32> {
  // CHECK: %[[EMB:.*]] = qnt.param "tok_embeddings" : tensor<32x16xf32>
  %emb = qnt.param "tok_embeddings" : tensor<32x16xf32>
  // CHECK: %[[X:.*]] = qnt.embedding %{{.*}}, %[[EMB]] : (tensor<?xi32>, tensor<32x16xf32>) -> tensor<?x16xf32>
  %x = qnt.embedding %tokens, %emb : (tensor<?xi32>, tensor<32x16xf32>) -> tensor<?x16xf32>
  %nw = qnt.param "norm" : tensor<16xf32>
  // CHECK: qnt.rms_norm %[[X]], %{{.*}} {eps = 9.99999974E-6 : f32}
  %h = qnt.rms_norm %x, %nw {eps = 1.0e-5 : f32} : (tensor<?x16xf32>, tensor<16xf32>) -> tensor<?x16xf32>
  %wq = qnt.param "wq" : tensor<16x16xf32>
  %wk = qnt.param "wk" : tensor<8x16xbf16>
  %bk = qnt.param "bk" : tensor<8xf32>
  %q = qnt.linear %h, %wq : (tensor<?x16xf32>, tensor<16x16xf32>) -> tensor<?x16xf32>
  // CHECK: qnt.linear %{{.*}}, %{{.*}}, %{{.*}} : (tensor<?x16xf32>, tensor<8x16xbf16>, tensor<8xf32>) -> tensor<?x8xf32>
  %k = qnt.linear %h, %wk, %bk : (tensor<?x16xf32>, tensor<8x16xbf16>, tensor<8xf32>) -> tensor<?x8xf32>
  // CHECK: qnt.rope %{{.*}}[%{{.*}}] interleaved {head_dim = 4 : i64, theta = 1.000000e+04 : f32} : tensor<?x16xf32>
  %qr = qnt.rope %q[%pos] interleaved {head_dim = 4 : i64, theta = 10000.0 : f32} : tensor<?x16xf32>
  // CHECK: qnt.rope %{{.*}}[%{{.*}}] rotate_half
  %kr = qnt.rope %k[%pos] rotate_half {head_dim = 4 : i64, theta = 10000.0 : f32} : tensor<?x8xf32>
  // CHECK: qnt.attention %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}[%{{.*}}] {head_dim = 4 : i64, layer = 0 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64}
  %a = qnt.attention %qr, %kr, %k, %cache[%pos] {layer = 0 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 4 : i64}
      : tensor<?x16xf32>, tensor<?x8xf32>, tensor<?x8xf32>, !qnt.kv_cache<layers = 1, max_seq_len = 16, kv_heads = 2, head_dim = 4, element_type = f32> -> tensor<?x16xf32>
  // CHECK: qnt.add
  %r = qnt.add %x, %a : tensor<?x16xf32>
  // CHECK: qnt.swiglu
  %s = qnt.swiglu %r, %h : tensor<?x16xf32>
  // CHECK: qnt.silu
  %t = qnt.silu %s : tensor<?x16xf32>
  // CHECK: qnt.gelu %{{.*}} {approximate_tanh}
  %g = qnt.gelu %t {approximate_tanh} : tensor<?x16xf32>
  // CHECK: qnt.mul
  %m = qnt.mul %g, %t : tensor<?x16xf32>
  %w2 = qnt.param "w2" : tensor<16x16xf32>
  // CHECK: qnt.matmul
  %mm = qnt.matmul %m, %w2 : (tensor<?x16xf32>, tensor<16x16xf32>) -> tensor<?x16xf32>
  // CHECK: qnt.lm_head %{{.*}}, %[[EMB]] : (tensor<?x16xf32>, tensor<32x16xf32>) -> tensor<?x32xf32>
  %logits = qnt.lm_head %mm, %emb : (tensor<?x16xf32>, tensor<32x16xf32>) -> tensor<?x32xf32>
  return %logits : tensor<?x32xf32>
}

// The ops the quantization and fusion passes make.
// CHECK-LABEL: func.func @quantized_block
func.func @quantized_block(%x: tensor<?x32xf32>, %y: tensor<?x32xf32>)
    -> (tensor<?x32xf32>, tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x48xf32>, tensor<?x16xf32>) {
  %nw = qnt.param "norm" : tensor<32xf32>
  // CHECK: %[[SUM:.*]], %[[N:.*]] = qnt.add_rms_norm %{{.*}}, %{{.*}}, %{{.*}} {eps = 9.99999974E-6 : f32, quant_bits = 8 : i64}
  %sum, %n = qnt.add_rms_norm %x, %y, %nw {eps = 1.0e-5 : f32, quant_bits = 8 : i64} : (tensor<?x32xf32>, tensor<?x32xf32>, tensor<32xf32>) -> (tensor<?x32xf32>, tensor<?x32xf32>)
  // CHECK: %[[WQ:.*]] = qnt.qparam "wq" <format = int, bits = 4, group_size = 32, symmetric = true, double_quant = false, outliers = 0> : tensor<16x32xf32>
  %wq = qnt.qparam "wq" <format = int, bits = 4, group_size = 32, symmetric = true, double_quant = false, outliers = 0> : tensor<16x32xf32>
  // CHECK: qnt.qparam "wk" <format = nf4, bits = 4, group_size = 32, symmetric = true, double_quant = true, outliers = 0>
  %wk = qnt.qparam "wk" <format = nf4, bits = 4, group_size = 32, symmetric = true, double_quant = true, outliers = 0> : tensor<16x32xf32>
  // CHECK: %{{.*}}:2 = qnt.multi_linear %[[N]], %[[WQ]], %{{.*}} : (tensor<?x32xf32>, tensor<16x32xf32>, tensor<16x32xf32>) -> (tensor<?x16xf32>, tensor<?x16xf32>)
  %q, %k = qnt.multi_linear %n, %wq, %wk : (tensor<?x32xf32>, tensor<16x32xf32>, tensor<16x32xf32>) -> (tensor<?x16xf32>, tensor<?x16xf32>)
  %wg = qnt.qparam "wg" <format = int, bits = 8, group_size = 0, symmetric = true, double_quant = false, outliers = 2> : tensor<48x32xf32>
  %wu = qnt.param "wu" : tensor<48x32xf32>
  // CHECK: %[[DQ:.*]] = qnt.dynamic_quant %{{.*}} {bits = 8 : i64, keep_channels = array<i64: 1, 7>} : tensor<?x32xf32>
  %xq = qnt.dynamic_quant %sum {bits = 8 : i64, keep_channels = array<i64: 1, 7>} : tensor<?x32xf32>
  // CHECK: qnt.swiglu_linear %[[DQ]], %{{.*}}, %{{.*}} : (tensor<?x32xf32>, tensor<48x32xf32>, tensor<48x32xf32>) -> tensor<?x48xf32>
  %s = qnt.swiglu_linear %xq, %wg, %wu : (tensor<?x32xf32>, tensor<48x32xf32>, tensor<48x32xf32>) -> tensor<?x48xf32>
  %wd = qnt.param "wd" : tensor<16x48xf32>
  %d = qnt.linear %s, %wd : (tensor<?x48xf32>, tensor<16x48xf32>) -> tensor<?x16xf32>
  return %sum, %q, %k, %s, %d : tensor<?x32xf32>, tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x48xf32>, tensor<?x16xf32>
}
