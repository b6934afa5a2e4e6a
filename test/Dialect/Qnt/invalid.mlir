// RUN: qopt-opt %s -split-input-file -verify-diagnostics

func.func @linear_in_features(%x: tensor<?x16xf32>, %w: tensor<8x12xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{input features (16) do not match weight in_features (12)}}
  %y = qnt.linear %x, %w : (tensor<?x16xf32>, tensor<8x12xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

func.func @linear_out_features(%x: tensor<?x16xf32>, %w: tensor<8x16xf32>) -> tensor<?x9xf32> {
  // expected-error @+1 {{result feature dimension 9 should be 8}}
  %y = qnt.linear %x, %w : (tensor<?x16xf32>, tensor<8x16xf32>) -> tensor<?x9xf32>
  return %y : tensor<?x9xf32>
}

// -----

func.func @linear_bias(%x: tensor<?x16xf32>, %w: tensor<8x16xf32>, %b: tensor<7xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{bias must be a 1-D tensor of 8 elements}}
  %y = qnt.linear %x, %w, %b : (tensor<?x16xf32>, tensor<8x16xf32>, tensor<7xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

func.func @dynamic_weight(%x: tensor<?x16xf32>, %w: tensor<?x16xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{weight must be a statically shaped 2-D tensor}}
  %y = qnt.linear %x, %w : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

func.func @param_dynamic() {
  // expected-error @+1 {{parameter type must be statically shaped}}
  %p = qnt.param "w" : tensor<?x4xf32>
  return
}

// -----

func.func @param_empty_name() {
  // expected-error @+1 {{parameter name must not be empty}}
  %p = qnt.param "" : tensor<4xf32>
  return
}

// -----

func.func @norm_width(%x: tensor<?x16xf32>, %w: tensor<15xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{weight length 15 does not match input features 16}}
  %y = qnt.rms_norm %x, %w {eps = 1.0e-5 : f32} : (tensor<?x16xf32>, tensor<15xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

func.func @norm_eps(%x: tensor<?x16xf32>, %w: tensor<16xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{eps must be positive}}
  %y = qnt.rms_norm %x, %w {eps = 0.0 : f32} : (tensor<?x16xf32>, tensor<16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

func.func @rope_odd(%x: tensor<?x15xf32>, %pos: index) -> tensor<?x15xf32> {
  // expected-error @+1 {{head_dim must be positive and even, got 5}}
  %y = qnt.rope %x[%pos] interleaved {head_dim = 5 : i64, theta = 10000.0 : f32} : tensor<?x15xf32>
  return %y : tensor<?x15xf32>
}

// -----

func.func @rope_width(%x: tensor<?x12xf32>, %pos: index) -> tensor<?x12xf32> {
  // expected-error @+1 {{feature dimension 12 is not a multiple of head_dim 8}}
  %y = qnt.rope %x[%pos] interleaved {head_dim = 8 : i64, theta = 10000.0 : f32} : tensor<?x12xf32>
  return %y : tensor<?x12xf32>
}

// -----

func.func @rope_style(%x: tensor<?x8xf32>, %pos: index) -> tensor<?x8xf32> {
  // expected-error @+2 {{expected ::qopt::qnt::RopeStyle to be one of: interleaved, rotate_half}}
  // expected-error @+1 {{failed to parse Qnt_RopeStyleAttr}}
  %y = qnt.rope %x[%pos] sideways {head_dim = 8 : i64, theta = 10000.0 : f32} : tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

!cache = !qnt.kv_cache<layers = 2, max_seq_len = 8, kv_heads = 3, head_dim = 4, element_type = f32>
func.func @gqa_divides(%q: tensor<?x16xf32>, %kv: tensor<?x12xf32>, %c: !cache, %pos: index) -> tensor<?x16xf32> {
  // expected-error @+1 {{num_heads (4) must be a multiple of num_kv_heads (3)}}
  %a = qnt.attention %q, %kv, %kv, %c[%pos] {layer = 0 : i64, num_heads = 4 : i64, num_kv_heads = 3 : i64, head_dim = 4 : i64}
      : tensor<?x16xf32>, tensor<?x12xf32>, tensor<?x12xf32>, !cache -> tensor<?x16xf32>
  return %a : tensor<?x16xf32>
}

// -----

!cache = !qnt.kv_cache<layers = 2, max_seq_len = 8, kv_heads = 2, head_dim = 4, element_type = f32>
func.func @window_positive(%q: tensor<?x16xf32>, %kv: tensor<?x8xf32>, %c: !cache, %pos: index) -> tensor<?x16xf32> {
  // expected-error @+1 {{window must be positive, got 0}}
  %a = qnt.attention %q, %kv, %kv, %c[%pos] {layer = 0 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 4 : i64, window = 0 : i64}
      : tensor<?x16xf32>, tensor<?x8xf32>, tensor<?x8xf32>, !cache -> tensor<?x16xf32>
  return %a : tensor<?x16xf32>
}

// -----

!cache = !qnt.kv_cache<layers = 2, max_seq_len = 8, kv_heads = 2, head_dim = 4, element_type = f32>
func.func @layer_outside_cache(%q: tensor<?x16xf32>, %kv: tensor<?x8xf32>, %c: !cache, %pos: index) -> tensor<?x16xf32> {
  // expected-error @+1 {{layer 2 is outside the cache's 2 layers}}
  %a = qnt.attention %q, %kv, %kv, %c[%pos] {layer = 2 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 4 : i64}
      : tensor<?x16xf32>, tensor<?x8xf32>, tensor<?x8xf32>, !cache -> tensor<?x16xf32>
  return %a : tensor<?x16xf32>
}

// -----

!cache = !qnt.kv_cache<layers = 1, max_seq_len = 8, kv_heads = 2, head_dim = 4, element_type = f32>
func.func @kv_width(%q: tensor<?x16xf32>, %kv: tensor<?x12xf32>, %c: !cache, %pos: index) -> tensor<?x16xf32> {
  // expected-error @+1 {{k and v features must be num_kv_heads * head_dim = 8}}
  %a = qnt.attention %q, %kv, %kv, %c[%pos] {layer = 0 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 4 : i64}
      : tensor<?x16xf32>, tensor<?x12xf32>, tensor<?x12xf32>, !cache -> tensor<?x16xf32>
  return %a : tensor<?x16xf32>
}

// -----

// expected-error @+1 {{kv_cache dimensions must be positive}}
func.func @bad_cache(%c: !qnt.kv_cache<layers = 0, max_seq_len = 8, kv_heads = 2, head_dim = 4, element_type = f32>) {
  return
}

// -----

func.func @embedding_width(%t: tensor<?xi32>, %table: tensor<32x16xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{result feature dimension 8 does not match table width 16}}
  %x = qnt.embedding %t, %table : (tensor<?xi32>, tensor<32x16xf32>) -> tensor<?x8xf32>
  return %x : tensor<?x8xf32>
}

// -----

// expected-note @+1 {{prior use here}}
func.func @add_types(%a: tensor<?x16xf32>, %b: tensor<?x8xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{use of value '%b' expects different type than prior uses}}
  %y = qnt.add %a, %b : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

func.func @token_type(%t: tensor<?xf32>, %table: tensor<32x16xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{operand #0 must be ranked tensor of 32-bit signless integer values}}
  %x = qnt.embedding %t, %table : (tensor<?xf32>, tensor<32x16xf32>) -> tensor<?x16xf32>
  return %x : tensor<?x16xf32>
}

// -----

func.func @multi_linear_one_weight(%x: tensor<?x16xf32>, %w: tensor<8x16xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{needs at least two weights and one result per weight, got 1 weights and 1 results}}
  %y = qnt.multi_linear %x, %w : (tensor<?x16xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

func.func @multi_linear_shape(%x: tensor<?x16xf32>, %a: tensor<8x16xf32>, %b: tensor<4x16xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{result feature dimension 8 should be 4}}
  %y:2 = qnt.multi_linear %x, %a, %b : (tensor<?x16xf32>, tensor<8x16xf32>, tensor<4x16xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>)
  return %y#0 : tensor<?x8xf32>
}

// -----

func.func @multi_linear_one_bias(%x: tensor<?x16xf32>, %a: tensor<8x16xf32>, %b: tensor<4x16xf32>, %ba: tensor<8xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{needs no biases or one per weight, got 1 biases for 2 weights}}
  %y:2 = qnt.multi_linear %x, %a, %b bias(%ba) : (tensor<?x16xf32>, tensor<8x16xf32>, tensor<4x16xf32>, tensor<8xf32>) -> (tensor<?x8xf32>, tensor<?x4xf32>)
  return %y#0 : tensor<?x8xf32>
}

// -----

func.func @multi_linear_bias_shape(%x: tensor<?x16xf32>, %a: tensor<8x16xf32>, %b: tensor<4x16xf32>, %ba: tensor<8xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{bias must be a 1-D tensor of 4 elements}}
  %y:2 = qnt.multi_linear %x, %a, %b bias(%ba, %ba) : (tensor<?x16xf32>, tensor<8x16xf32>, tensor<4x16xf32>, tensor<8xf32>, tensor<8xf32>) -> (tensor<?x8xf32>, tensor<?x4xf32>)
  return %y#0 : tensor<?x8xf32>
}

// -----

func.func @swiglu_linear_shapes(%x: tensor<?x16xf32>, %g: tensor<8x16xf32>, %u: tensor<4x16xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{gate and up weights must have one shape}}
  %y = qnt.swiglu_linear %x, %g, %u : (tensor<?x16xf32>, tensor<8x16xf32>, tensor<4x16xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

func.func @add_rms_norm_types(%a: tensor<?x16xf32>, %b: tensor<?x8xf32>, %w: tensor<16xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{lhs, rhs and sum must have one type}}
  %s, %y = qnt.add_rms_norm %a, %b, %w {eps = 1.0e-5 : f32} : (tensor<?x16xf32>, tensor<?x8xf32>, tensor<16xf32>) -> (tensor<?x16xf32>, tensor<?x16xf32>)
  return %y : tensor<?x16xf32>
}

// -----

func.func @norm_quant_bits(%x: tensor<?x16xf32>, %w: tensor<16xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{quant_bits must be in [2, 8], got 9}}
  %y = qnt.rms_norm %x, %w {eps = 1.0e-5 : f32, quant_bits = 9 : i64} : (tensor<?x16xf32>, tensor<16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

func.func @rope_freq_scale_count(%x: tensor<?x8xf32>, %pos: index) -> tensor<?x8xf32> {
  // expected-error @+1 {{freq_scale has 3 values; head_dim / 2 is 4}}
  %y = qnt.rope %x[%pos] interleaved {head_dim = 8 : i64, theta = 10000.0 : f32, freq_scale = array<f32: 1.0, 1.0, 0.5>} : tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

func.func @rope_freq_scale_value(%x: tensor<?x8xf32>, %pos: index) -> tensor<?x8xf32> {
  // expected-error @+1 {{freq_scale values must be positive and finite}}
  %y = qnt.rope %x[%pos] interleaved {head_dim = 8 : i64, theta = 10000.0 : f32, freq_scale = array<f32: 1.0, 1.0, 0.0, 0.5>} : tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}
