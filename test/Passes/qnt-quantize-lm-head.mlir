// qnt-quantize-lm-head on the one-block model: the tied classifier gets its
// own quantized copy of the embedding table; the embedding keeps the float
// table.
// RUN: rm -rf %t && mkdir -p %t && %tinyparams %t/tiny.safetensors
// RUN: qopt-opt %tinymodel --params %t/tiny.safetensors -pass-pipeline='builtin.module(qnt-quantize-lm-head{bits=8})' | FileCheck %s
// CHECK-LABEL: func.func @forward
// CHECK: %[[EMB:.*]] = qnt.param "emb" : tensor<512x32xf32>
// CHECK: qnt.embedding %{{.*}}, %[[EMB]]
// CHECK: %[[HEAD:.*]] = qnt.qparam "emb" <format = int, bits = 8, group_size = 0, symmetric = true,
// CHECK: qnt.lm_head %{{.*}}, %[[HEAD]]
