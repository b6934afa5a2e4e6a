// qnt-kv-cache on the one-block model: the cache argument's element type.
// RUN: qopt-opt %tinymodel -pass-pipeline='builtin.module(qnt-kv-cache{element-type=f16})' | FileCheck %s
// CHECK-LABEL: func.func @forward
// CHECK-SAME: !qnt.kv_cache<layers = 1, max_seq_len = 64, kv_heads = 1, head_dim = 32, element_type = f16>
