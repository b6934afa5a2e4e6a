// qnt-fuse-norm-quant: the per-token int8 quantization of a norm's output
// moves into the norm when only int8-weight linears read it.
// RUN: qopt-opt %s -split-input-file -pass-pipeline='builtin.module(qnt-fuse-norm-quant)' | FileCheck %s

// CHECK-LABEL: func.func @w8a8
func.func @w8a8(%x: tensor<?x16xf32>, %r: tensor<?x16xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x16xf32>) {
  %nw = qnt.param "norm" : tensor<16xf32>
  %n = qnt.rms_norm %x, %nw {eps = 1.0e-5 : f32} : (tensor<?x16xf32>, tensor<16xf32>) -> tensor<?x16xf32>
  %q = qnt.dynamic_quant %n {bits = 8 : i64} : tensor<?x16xf32>
  %w1 = qnt.qparam "w1" <format = int, bits = 8, group_size = 0, symmetric = true, double_quant = false, outliers = 0> : tensor<8x16xf32>
  %w2 = qnt.qparam "w2" <format = int, bits = 8, group_size = 0, symmetric = true, double_quant = false, outliers = 0> : tensor<8x16xf32>
  %y:2 = qnt.multi_linear %q, %w1, %w2 : (tensor<?x16xf32>, tensor<8x16xf32>, tensor<8x16xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>)
  %sum, %m = qnt.add_rms_norm %x, %r, %nw {eps = 1.0e-5 : f32} : (tensor<?x16xf32>, tensor<?x16xf32>, tensor<16xf32>) -> (tensor<?x16xf32>, tensor<?x16xf32>)
  %mq = qnt.dynamic_quant %m {bits = 8 : i64} : tensor<?x16xf32>
  %z = qnt.linear %mq, %w1 : (tensor<?x16xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  return %y#0, %z, %sum : tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x16xf32>
}
// CHECK: %[[N:.*]] = qnt.rms_norm %arg0, %{{.*}} {eps = 9.99999974E-6 : f32, quant_bits = 8 : i64}
// CHECK-NOT: qnt.dynamic_quant
// CHECK: qnt.multi_linear %[[N]]
// CHECK: %{{.*}}, %[[M:.*]] = qnt.add_rms_norm {{.*}}quant_bits = 8 : i64
// CHECK: qnt.linear %[[M]]

// -----

// Kept channels (LLM.int8), 4-bit weights, fewer bits, or a norm read
// elsewhere too: the quantizer stays.
// CHECK-LABEL: func.func @kept
func.func @kept(%x: tensor<?x16xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x16xf32>) {
  %nw = qnt.param "norm" : tensor<16xf32>
  %w8 = qnt.qparam "w8" <format = int, bits = 8, group_size = 0, symmetric = true, double_quant = false, outliers = 0> : tensor<8x16xf32>
  %w4 = qnt.qparam "w4" <format = int, bits = 4, group_size = 0, symmetric = true, double_quant = false, outliers = 0> : tensor<8x16xf32>
  %n1 = qnt.rms_norm %x, %nw {eps = 1.0e-5 : f32} : (tensor<?x16xf32>, tensor<16xf32>) -> tensor<?x16xf32>
  %q1 = qnt.dynamic_quant %n1 {bits = 8 : i64, keep_channels = array<i64: 3>} : tensor<?x16xf32>
  %a = qnt.linear %q1, %w8 : (tensor<?x16xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  %n2 = qnt.rms_norm %x, %nw {eps = 1.0e-5 : f32} : (tensor<?x16xf32>, tensor<16xf32>) -> tensor<?x16xf32>
  %q2 = qnt.dynamic_quant %n2 {bits = 8 : i64} : tensor<?x16xf32>
  %b = qnt.linear %q2, %w4 : (tensor<?x16xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  %n3 = qnt.rms_norm %x, %nw {eps = 1.0e-5 : f32} : (tensor<?x16xf32>, tensor<16xf32>) -> tensor<?x16xf32>
  %q3 = qnt.dynamic_quant %n3 {bits = 6 : i64} : tensor<?x16xf32>
  %c = qnt.linear %q3, %w8 : (tensor<?x16xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  %n4 = qnt.rms_norm %x, %nw {eps = 1.0e-5 : f32} : (tensor<?x16xf32>, tensor<16xf32>) -> tensor<?x16xf32>
  %q4 = qnt.dynamic_quant %n4 {bits = 8 : i64} : tensor<?x16xf32>
  %d = qnt.linear %q4, %w8 : (tensor<?x16xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  return %a, %b, %c, %d, %n4 : tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x16xf32>
}
// CHECK-NOT: quant_bits
// CHECK-COUNT-4: qnt.dynamic_quant
// CHECK-NOT: quant_bits
