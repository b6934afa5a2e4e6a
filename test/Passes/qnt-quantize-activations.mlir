// qnt-quantize-activations on the one-block model. Static: each linear's
// input gets a calibrated per-tensor int8 scale as quant.qcast / quant.dcast.
// Dynamic: qnt.dynamic_quant (per-token scales at run time).
// RUN: rm -rf %t && mkdir -p %t && %tinyparams %t/tiny.safetensors
// RUN: qopt-opt %tinymodel --params %t/tiny.safetensors %tinycalib -pass-pipeline='builtin.module(qnt-quantize-activations)' | FileCheck %s
// CHECK-LABEL: func.func @forward
// CHECK: %[[H:.*]] = qnt.rms_norm
// CHECK: %[[Q:.*]] = quant.qcast %[[H]] : tensor<?x32xf32> to tensor<?x32x!quant.uniform<i8<-127:127>:f32, {{.*}}>>
// CHECK: %[[D:.*]] = quant.dcast %[[Q]]
// CHECK: qnt.linear %[[D]],
// CHECK: quant.qcast {{.*}} to tensor<?x64x!quant.uniform<i8<-127:127>:f32,
// RUN: qopt-opt %tinymodel --params %t/tiny.safetensors -pass-pipeline='builtin.module(qnt-quantize-activations{mode=dynamic})' | FileCheck %s --check-prefix=DYN
// DYN: %[[H:.*]] = qnt.rms_norm
// DYN: %[[Q:.*]] = qnt.dynamic_quant %[[H]] {bits = 8 : i64}
// DYN: qnt.linear %[[Q]],
