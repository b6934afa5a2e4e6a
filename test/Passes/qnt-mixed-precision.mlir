// qnt-mixed-precision on the one-block model: each linear is marked with
// its measured sensitivity and the chosen scheme (qnt.weight_scheme) that a
// following quantizing pass applies. With a budget of 4.5 bits per weight
// from {int4 g32 (4.5 with its f16 scales), int8 per channel}, every linear
// stays at 4 bits.
// RUN: rm -rf %t && mkdir -p %t && %tinyparams %t/tiny.safetensors
// RUN: qopt-opt %tinymodel --params %t/tiny.safetensors %tinycalib -pass-pipeline='builtin.module(qnt-mixed-precision{target-bpw=6.0 candidates=int4:g32:sym,int8:g0:sym samples=2})' | FileCheck %s
// CHECK-LABEL: func.func @forward
// CHECK: qnt.linear {{.*}}qnt.sensitivity = {{.*}}qnt.weight_scheme = {{.*}}
// CHECK: qnt.linear {{.*}}qnt.sensitivity = {{.*}}qnt.weight_scheme = {{.*}}
// RUN: qopt-opt %tinymodel --params %t/tiny.safetensors %tinycalib -pass-pipeline='builtin.module(qnt-mixed-precision{target-bpw=4.5 candidates=int4:g32:sym,int8:g0:sym samples=2},qnt-quantize-weights)' | FileCheck %s --check-prefix=LOW
// LOW: qnt.qparam {{.*}}bits = 4, group_size = 32
// LOW-NOT: bits = 8
