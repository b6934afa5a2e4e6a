// qnt-smoothquant on the one-block model: s_j = max|X_j|^alpha /
// max|W_j|^(1-alpha) for w1's input, folded into the norm (the float
// function is unchanged), so the outlier channel 3 gets the smallest norm
// weight; the linear records the alpha used. w2 reads silu's output, which
// cannot absorb a scale, and is left alone.
// RUN: rm -rf %t && mkdir -p %t && %tinyparams %t/tiny.safetensors
// RUN: qopt-opt %tinymodel --params %t/tiny.safetensors --params-out %t/sq.safetensors %tinycalib -pass-pipeline='builtin.module(qnt-smoothquant{alpha=0.5})' | FileCheck %s
// CHECK-LABEL: func.func @forward
// CHECK: %[[W1:.*]] = qnt.param "w1"
// CHECK: qnt.linear %{{.*}}, %[[W1]] {qnt.smoothquant_alpha = 5.000000e-01 : f32}
// CHECK: %[[W2:.*]] = qnt.param "w2"
// CHECK: qnt.linear %{{.*}}, %[[W2]] :
// RUN: %python %inputs/show_param.py %t/sq.safetensors norm | FileCheck %s --check-prefix=NORM
// NORM: norm: argmin=3
