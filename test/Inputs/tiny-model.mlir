// A one-block model small enough to read in a test's output: embedding,
// norm, an MLP with a residual, and a tied classifier; vocabulary 512 so
// that stories260K's tokenizer (tok512.bin) encodes calibration text for it.
// Tests make its parameters with make_params.py (TINY_PARAMS in lit.cfg.py).
module attributes {qnt.model = {dim = 32 : i64, hidden_dim = 64 : i64, max_seq_len = 64 : i64, n_heads = 1 : i64, n_kv_heads = 1 : i64, n_layers = 1 : i64, norm_eps = 1.0e-5 : f32, rope_theta = 1.0e4 : f32, source = "test", tied_classifier = true, vocab_size = 512 : i64}, qnt.parameters = "tiny.safetensors"} {
  func.func @forward(%tokens: tensor<?xi32>, %pos: index, %cache: !qnt.kv_cache<layers = 1, max_seq_len = 64, kv_heads = 1, head_dim = 32, element_type = f32>) -> tensor<?x512xf32> {
    %emb = qnt.param "emb" : tensor<512x32xf32>
    %x = qnt.embedding %tokens, %emb : (tensor<?xi32>, tensor<512x32xf32>) -> tensor<?x32xf32>
    %g = qnt.param "norm" : tensor<32xf32>
    %h = qnt.rms_norm %x, %g {eps = 1.0e-5 : f32} : (tensor<?x32xf32>, tensor<32xf32>) -> tensor<?x32xf32>
    %w1 = qnt.param "w1" : tensor<64x32xf32>
    %u = qnt.linear %h, %w1 : (tensor<?x32xf32>, tensor<64x32xf32>) -> tensor<?x64xf32>
    %a = qnt.silu %u : tensor<?x64xf32>
    %w2 = qnt.param "w2" : tensor<32x64xf32>
    %d = qnt.linear %a, %w2 : (tensor<?x64xf32>, tensor<32x64xf32>) -> tensor<?x32xf32>
    %r = qnt.add %x, %d : tensor<?x32xf32>
    %logits = qnt.lm_head %r, %emb : (tensor<?x32xf32>, tensor<512x32xf32>) -> tensor<?x512xf32>
    return %logits : tensor<?x512xf32>
  }
}
