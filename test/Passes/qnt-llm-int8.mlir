// qnt-llm-int8 on the one-block model: input channels whose calibrated
// magnitude passes the threshold (the embedding's channel 3, after the
// norm) bypass quantization: dynamic_quant keeps them and w1 carries one
// outlier column; the rest is int8 per channel.
// RUN: rm -rf %t && mkdir -p %t && %tinyparams %t/tiny.safetensors
// RUN: qopt-opt %tinymodel --params %t/tiny.safetensors %tinycalib -pass-pipeline='builtin.module(qnt-llm-int8{threshold=4.0})' | FileCheck %s
// CHECK-LABEL: func.func @forward
// CHECK: %[[H:.*]] = qnt.rms_norm
// CHECK: %[[Q:.*]] = qnt.dynamic_quant %[[H]] {bits = 8 : i64, keep_channels = array<i64: 3>}
// CHECK: %[[W1:.*]] = qnt.qparam "w1" <format = int, bits = 8, group_size = 0, symmetric = true, double_quant = false, outliers = 1>
// CHECK: qnt.linear %[[Q]], %[[W1]]
