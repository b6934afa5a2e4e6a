// Each fusion pass on small IR, then the whole qnt-fuse pipeline.
// RUN: qopt-opt %s -split-input-file -pass-pipeline='builtin.module(qnt-fuse-swiglu)' | FileCheck %s --check-prefix=SWIGLU
// RUN: qopt-opt %s -split-input-file -pass-pipeline='builtin.module(qnt-fuse-linears)' | FileCheck %s --check-prefix=LINEARS
// RUN: qopt-opt %s -split-input-file -pass-pipeline='builtin.module(qnt-fuse-linears{max-group=2})' | FileCheck %s --check-prefix=MAX2
// RUN: qopt-opt %s -split-input-file -pass-pipeline='builtin.module(qnt-fuse-residual-norm)' | FileCheck %s --check-prefix=RESIDUAL
// RUN: qopt-opt %s -split-input-file -pass-pipeline='builtin.module(qnt-fuse)' | FileCheck %s --check-prefix=ALL
// RUN: not qopt-opt %s -split-input-file -pass-pipeline='builtin.module(qnt-fuse-linears{max-group=1})' 2>&1 | FileCheck %s --check-prefix=BADOPT
// BADOPT: qnt-fuse-linears: max-group must be at least 2, got 1

// An attention block's projections and a SwiGLU MLP.
func.func @block(%x: tensor<?x16xf32>) -> (tensor<?x16xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x24xf32>) {
  %wq = qnt.param "wq" : tensor<16x16xf32>
  %q = qnt.linear %x, %wq : (tensor<?x16xf32>, tensor<16x16xf32>) -> tensor<?x16xf32>
  %wk = qnt.param "wk" : tensor<8x16xf32>
  %k = qnt.linear %x, %wk : (tensor<?x16xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  %wv = qnt.param "wv" : tensor<8x16xf32>
  %v = qnt.linear %x, %wv : (tensor<?x16xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  %wg = qnt.param "w1" : tensor<24x16xf32>
  %g = qnt.linear %q, %wg : (tensor<?x16xf32>, tensor<24x16xf32>) -> tensor<?x24xf32>
  %wu = qnt.param "w3" : tensor<24x16xf32>
  %u = qnt.linear %q, %wu : (tensor<?x16xf32>, tensor<24x16xf32>) -> tensor<?x24xf32>
  %s = qnt.swiglu %g, %u : tensor<?x24xf32>
  return %q, %k, %v, %s : tensor<?x16xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x24xf32>
}
// Gate and up become one op; q/k/v stay (another pass merges them).
// SWIGLU-LABEL: func.func @block
// SWIGLU: %[[WG:.*]] = qnt.param "w1"
// SWIGLU: %[[WU:.*]] = qnt.param "w3"
// SWIGLU-NOT: qnt.swiglu %
// SWIGLU: %[[S:.*]] = qnt.swiglu_linear %[[Q:.*]], %[[WG]], %[[WU]] : (tensor<?x16xf32>, tensor<24x16xf32>, tensor<24x16xf32>) -> tensor<?x24xf32>
// SWIGLU: return {{.*}}, %[[S]]

// The weights move up to the first linear; one op with three results.
// LINEARS-LABEL: func.func @block
// LINEARS: %[[WQ:.*]] = qnt.param "wq"
// LINEARS-NEXT: %[[WK:.*]] = qnt.param "wk"
// LINEARS-NEXT: %[[WV:.*]] = qnt.param "wv"
// LINEARS-NEXT: %[[QKV:.*]]:3 = qnt.multi_linear %arg0, %[[WQ]], %[[WK]], %[[WV]] : (tensor<?x16xf32>, tensor<16x16xf32>, tensor<8x16xf32>, tensor<8x16xf32>) -> (tensor<?x16xf32>, tensor<?x8xf32>, tensor<?x8xf32>)
// Without qnt-fuse-swiglu first, gate and up merge as plain linears.
// LINEARS: %[[GU:.*]]:2 = qnt.multi_linear %[[QKV]]#0
// LINEARS: qnt.swiglu %[[GU]]#0, %[[GU]]#1
// LINEARS: return %[[QKV]]#0, %[[QKV]]#1, %[[QKV]]#2

// max-group=2 splits q/k/v into a pair and leaves v alone.
// MAX2-LABEL: func.func @block
// MAX2: qnt.multi_linear %arg0, %{{.*}}, %{{.*}} : {{.*}} -> (tensor<?x16xf32>, tensor<?x8xf32>)
// MAX2: qnt.linear %arg0

// ALL-LABEL: func.func @block
// ALL: qnt.multi_linear %arg0
// ALL: qnt.swiglu_linear

// -----

// A biased and a bias-free linear of one value, or linears reading
// different values, are left alone.
func.func @unrelated(%x: tensor<?x16xf32>, %y: tensor<?x16xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>) {
  %w = qnt.param "w" : tensor<8x16xf32>
  %b = qnt.param "b" : tensor<8xf32>
  %a = qnt.linear %x, %w, %b : (tensor<?x16xf32>, tensor<8x16xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  %c = qnt.linear %x, %w : (tensor<?x16xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  %d = qnt.linear %y, %w : (tensor<?x16xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  return %a, %c, %d : tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>
}
// LINEARS-LABEL: func.func @unrelated
// LINEARS-NOT: qnt.multi_linear
// LINEARS: return

// -----

// Qwen2's q/k/v: three biased linears merge, each bias kept with its
// weight, hoisted with it; the bias-free o-like linear stays apart.
func.func @biased_qkv(%x: tensor<?x16xf32>) -> (tensor<?x16xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>) {
  %wq = qnt.param "wq" : tensor<16x16xf32>
  %bq = qnt.param "bq" : tensor<16xf32>
  %q = qnt.linear %x, %wq, %bq : (tensor<?x16xf32>, tensor<16x16xf32>, tensor<16xf32>) -> tensor<?x16xf32>
  %wk = qnt.param "wk" : tensor<8x16xf32>
  %bk = qnt.param "bk" : tensor<8xf32>
  %k = qnt.linear %x, %wk, %bk : (tensor<?x16xf32>, tensor<8x16xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  %wv = qnt.param "wv" : tensor<8x16xf32>
  %bv = qnt.param "bv" : tensor<8xf32>
  %v = qnt.linear %x, %wv, %bv : (tensor<?x16xf32>, tensor<8x16xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  %wo = qnt.param "wo" : tensor<8x16xf32>
  %o = qnt.linear %x, %wo : (tensor<?x16xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  return %q, %k, %v, %o : tensor<?x16xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>
}
// LINEARS-LABEL: func.func @biased_qkv
// LINEARS-DAG: %[[WQ:.*]] = qnt.param "wq"
// LINEARS-DAG: %[[BQ:.*]] = qnt.param "bq"
// LINEARS-DAG: %[[WK:.*]] = qnt.param "wk"
// LINEARS-DAG: %[[BK:.*]] = qnt.param "bk"
// LINEARS-DAG: %[[WV:.*]] = qnt.param "wv"
// LINEARS-DAG: %[[BV:.*]] = qnt.param "bv"
// LINEARS: %[[QKV:.*]]:3 = qnt.multi_linear %arg0, %[[WQ]], %[[WK]], %[[WV]] bias(%[[BQ]], %[[BK]], %[[BV]]) : (tensor<?x16xf32>, tensor<16x16xf32>, tensor<8x16xf32>, tensor<8x16xf32>, tensor<16xf32>, tensor<8xf32>, tensor<8xf32>) -> (tensor<?x16xf32>, tensor<?x8xf32>, tensor<?x8xf32>)
// LINEARS: %[[O:.*]] = qnt.linear %arg0, %{{.*}} : (tensor<?x16xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
// LINEARS: return %[[QKV]]#0, %[[QKV]]#1, %[[QKV]]#2, %[[O]]

// -----

// A gate read elsewhere too cannot be folded into SwiGLU.
func.func @gate_escapes(%x: tensor<?x16xf32>) -> (tensor<?x24xf32>, tensor<?x24xf32>) {
  %wg = qnt.param "w1" : tensor<24x16xf32>
  %g = qnt.linear %x, %wg : (tensor<?x16xf32>, tensor<24x16xf32>) -> tensor<?x24xf32>
  %wu = qnt.param "w3" : tensor<24x16xf32>
  %u = qnt.linear %x, %wu : (tensor<?x16xf32>, tensor<24x16xf32>) -> tensor<?x24xf32>
  %s = qnt.swiglu %g, %u : tensor<?x24xf32>
  return %s, %g : tensor<?x24xf32>, tensor<?x24xf32>
}
// SWIGLU-LABEL: func.func @gate_escapes
// SWIGLU-NOT: qnt.swiglu_linear
// SWIGLU: qnt.swiglu %

// -----

// The residual stream: each add feeds the next norm and the next add.
func.func @residual(%x: tensor<?x16xf32>, %a: tensor<?x16xf32>, %m: tensor<?x16xf32>) -> (tensor<?x16xf32>, tensor<?x16xf32>) {
  %h = qnt.add %x, %a : tensor<?x16xf32>
  %nw = qnt.param "ffn_norm" : tensor<16xf32>
  %n = qnt.rms_norm %h, %nw {eps = 1.0e-5 : f32} : (tensor<?x16xf32>, tensor<16xf32>) -> tensor<?x16xf32>
  %o = qnt.add %h, %m : tensor<?x16xf32>
  return %n, %o : tensor<?x16xf32>, tensor<?x16xf32>
}
// The norm's weight moves above the add; the sum feeds the next add.
// RESIDUAL-LABEL: func.func @residual
// RESIDUAL: %[[W:.*]] = qnt.param "ffn_norm"
// RESIDUAL-NEXT: %[[SUM:.*]], %[[N:.*]] = qnt.add_rms_norm %arg0, %arg1, %[[W]] {eps = 9.99999974E-6 : f32} : (tensor<?x16xf32>, tensor<?x16xf32>, tensor<16xf32>) -> (tensor<?x16xf32>, tensor<?x16xf32>)
// RESIDUAL-NOT: qnt.rms_norm
// An add with no norm after it stays.
// RESIDUAL: %[[O:.*]] = qnt.add %[[SUM]], %arg2
// RESIDUAL: return %[[N]], %[[O]]
