// qnt-gptq on the one-block model: both linears quantized with the
// Hessian-guided solver; each qparam records its output error on the
// calibration data, which for the same scheme is below round-to-nearest's
// (the rel_error of qnt-quantize-weights with calibration attached).
// RUN: rm -rf %t && mkdir -p %t && %tinyparams %t/tiny.safetensors
// RUN: qopt-opt %tinymodel --params %t/tiny.safetensors %tinycalib -pass-pipeline='builtin.module(qnt-gptq{bits=3 group-size=32 act-order=true})' | FileCheck %s
// CHECK-LABEL: func.func @forward
// CHECK: %[[W1:.*]] = qnt.qparam "w1" <format = int, bits = 3, group_size = 32, symmetric = true, double_quant = false, outliers = 0> {qnt.rel_error = {{.*}}}
// CHECK: qnt.linear %{{.*}}, %[[W1]]
// CHECK: qnt.qparam "w2" <format = int, bits = 3, group_size = 32
// CHECK-NOT: qnt.param "w
//
// RUN: qopt-opt %tinymodel --params %t/tiny.safetensors %tinycalib -pass-pipeline='builtin.module(qnt-gptq{bits=3 group-size=32 act-order=true})' | grep -o 'rel_error = [0-9.eE+-]*' > %t/gptq.txt
// RUN: qopt-opt %tinymodel --params %t/tiny.safetensors %tinycalib -pass-pipeline='builtin.module(qnt-quantize-weights{bits=3 group-size=32})' | grep -o 'rel_error = [0-9.eE+-]*' > %t/rtn.txt
// RUN: paste %t/gptq.txt %t/rtn.txt | awk '{ if ($3 >= $6) { print "GPTQ not below RTN: " $0; bad = 1 } } END { exit bad }'
//
// Without calibration data it refuses, naming what is missing.
// RUN: not qopt-opt %tinymodel --params %t/tiny.safetensors -pass-pipeline='builtin.module(qnt-gptq)' 2>&1 | FileCheck %s --check-prefix=NOCALIB
// NOCALIB: qnt-gptq needs calibration data (--calib FILE)
