// qnt-quantize-weights on the one-block model: every linear's float weight
// becomes a qnt.qparam with the scheme and its error; the classifier (tied
// to the embedding) and the norm stay float.
// RUN: rm -rf %t && mkdir -p %t && %tinyparams %t/tiny.safetensors
// RUN: qopt-opt %tinymodel --params %t/tiny.safetensors -pass-pipeline='builtin.module(qnt-quantize-weights{bits=4 group-size=32})' | FileCheck %s
// CHECK-LABEL: func.func @forward
// CHECK: %[[EMB:.*]] = qnt.param "emb" : tensor<512x32xf32>
// CHECK: %[[NORM:.*]] = qnt.param "norm" : tensor<32xf32>
// CHECK: %[[H:.*]] = qnt.rms_norm %{{.*}}, %[[NORM]]
// CHECK: %[[W1:.*]] = qnt.qparam "w1" <format = int, bits = 4, group_size = 32, symmetric = true, double_quant = false, outliers = 0> {qnt.rel_error = {{.*}}} : tensor<64x32xf32>
// CHECK: qnt.linear %[[H]], %[[W1]]
// CHECK: qnt.qparam "w2" <format = int, bits = 4, group_size = 32
// CHECK: qnt.lm_head %{{.*}}, %[[EMB]]
//
// Asymmetric, per channel; NF4 with double quantization.
// RUN: qopt-opt %tinymodel --params %t/tiny.safetensors -pass-pipeline='builtin.module(qnt-quantize-weights{bits=3 group-size=0 symmetric=false})' | FileCheck %s --check-prefix=ASYM
// ASYM: qnt.qparam "w1" <format = int, bits = 3, group_size = 0, symmetric = false,
// RUN: qopt-opt %tinymodel --params %t/tiny.safetensors -pass-pipeline='builtin.module(qnt-quantize-weights{format=nf4 group-size=32 double-quant=true})' | FileCheck %s --check-prefix=NF4
// NF4: qnt.qparam "w1" <format = nf4, bits = 4, group_size = 32, symmetric = true, double_quant = true,
//
// The packed codes go to the store: the rewritten store has w1's codes and
// scales, and a second run over the written parameters gives the same IR.
// RUN: qopt-opt %tinymodel --params %t/tiny.safetensors --params-out %t/q.safetensors -pass-pipeline='builtin.module(qnt-quantize-weights)' -o %t/q.mlir
// RUN: qopt-opt %t/q.mlir --params %t/q.safetensors --qnt-check-params -o /dev/null
