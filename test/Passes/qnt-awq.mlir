// qnt-awq on the one-block model: the weights stay float (a quantizing pass
// follows), but the per-channel scale found for w1's input is folded into
// the producing norm: the outlier channel 3 of the embedding gets the
// smallest norm weight, and w1's column 3 is scaled up by the same factor.
// RUN: rm -rf %t && mkdir -p %t && %tinyparams %t/tiny.safetensors
// RUN: qopt-opt %tinymodel --params %t/tiny.safetensors --params-out %t/awq.safetensors %tinycalib -pass-pipeline='builtin.module(qnt-awq{bits=4 group-size=32})' | FileCheck %s
// CHECK-LABEL: func.func @forward
// CHECK: qnt.param "norm" : tensor<32xf32>
// CHECK: qnt.param "w1" : tensor<64x32xf32>
// CHECK-NOT: qnt.qparam
// RUN: %python %inputs/show_param.py %t/tiny.safetensors norm | FileCheck %s --check-prefix=BEFORE
// BEFORE: norm: argmin=0 argmax=0 min=1 max=1
// RUN: %python %inputs/show_param.py %t/awq.safetensors norm | FileCheck %s --check-prefix=AFTER
// AFTER: norm: argmin=3
