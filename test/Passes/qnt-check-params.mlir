// RUN: rm -rf %t && %python %inputs/make_bad_inputs.py %shared %t
// RUN: qopt-opt %s -split-input-file --params %t/params.safetensors --qnt-check-params=report=true -verify-diagnostics | FileCheck %s
// RUN: not qopt-opt %s -split-input-file --qnt-check-params 2>&1 | FileCheck %s --check-prefix=NOSTORE

// NOSTORE: error: no parameter store is attached (run qopt-opt with --params FILE)

// CHECK: module attributes {qnt.param_bytes = 16 : i64}
// CHECK: qnt.param "norm" : tensor<4xf32>
module {
  func.func @ok() -> tensor<4xf32> {
    %w = qnt.param "norm" : tensor<4xf32>
    return %w : tensor<4xf32>
  }
}

// -----

module {
  func.func @missing() -> tensor<4xf32> {
    // expected-error @+1 {{parameter 'nope' is not in the parameter store}}
    %w = qnt.param "nope" : tensor<4xf32>
    return %w : tensor<4xf32>
  }
}

// -----

module {
  func.func @wrong_shape() -> tensor<2x2xf32> {
    // expected-error @+1 {{parameter 'norm' is F32[4] in the store but the IR expects 'tensor<2x2xf32>'}}
    %w = qnt.param "norm" : tensor<2x2xf32>
    return %w : tensor<2x2xf32>
  }
}

// -----

module {
  func.func @wrong_type() -> tensor<4xbf16> {
    // expected-error @+1 {{parameter 'norm' is F32[4] in the store but the IR expects 'tensor<4xbf16>'}}
    %w = qnt.param "norm" : tensor<4xbf16>
    return %w : tensor<4xbf16>
  }
}
