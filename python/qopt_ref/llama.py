"""A float64 numpy Llama forward pass (llama2.c semantics) and checkpoint readers."""
import json
import os
import struct

import numpy as np


class Config:
    def __init__(self, dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
                 seq_len, tied=True, norm_eps=1e-5, rope_theta=10000.0, rope_scaling=None):
        self.dim, self.hidden_dim, self.n_layers = dim, hidden_dim, n_layers
        self.n_heads, self.n_kv_heads = n_heads, n_kv_heads
        self.vocab_size, self.seq_len, self.tied = vocab_size, seq_len, tied
        self.norm_eps, self.rope_theta = norm_eps, rope_theta
        self.rope_scaling = rope_scaling  # config.json's dict, or None
        self.explicit_head_dim = None  # config.json's head_dim when not dim // n_heads

    @property
    def head_dim(self):
        return self.explicit_head_dim or self.dim // self.n_heads


def read_llama2c(path):
    """Returns (Config, weights) with weights in llama2.c naming, float32 arrays."""
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack_from("<I", data, 0)[0]
    if magic == 0x616B3432:
        version = struct.unpack_from("<i", data, 4)[0]
        assert version == 1, version
        dim, hidden, layers, heads, kv, vocab, seq = struct.unpack_from("<7i", data, 8)
        tied = data[36] != 0
        offset, v1 = 256, True
    else:
        dim, hidden, layers, heads, kv, vocab, seq = struct.unpack_from("<7i", data, 0)
        tied = vocab > 0
        vocab = abs(vocab)
        offset, v1 = 28, False
    cfg = Config(dim, hidden, layers, heads, kv, vocab, seq, tied)
    floats = np.frombuffer(data, dtype="<f4", offset=offset)
    hd = cfg.head_dim
    kvd = kv * hd
    pos = [0]

    def take(*shape):
        n = int(np.prod(shape))
        out = floats[pos[0]:pos[0] + n].reshape(shape)
        pos[0] += n
        return out

    w = {}
    if v1:
        w["rms_att"] = take(layers, dim)
        w["rms_ffn"] = take(layers, dim)
        w["rms_final"] = take(dim)
        w["tok"] = take(vocab, dim)
        w["wq"] = take(layers, dim, dim)
        w["wk"] = take(layers, kvd, dim)
        w["wv"] = take(layers, kvd, dim)
        w["wo"] = take(layers, dim, dim)
        w["w1"] = take(layers, hidden, dim)
        w["w2"] = take(layers, dim, hidden)
        w["w3"] = take(layers, hidden, dim)
    else:
        w["tok"] = take(vocab, dim)
        w["rms_att"] = take(layers, dim)
        w["wq"] = take(layers, dim, dim)
        w["wk"] = take(layers, kvd, dim)
        w["wv"] = take(layers, kvd, dim)
        w["wo"] = take(layers, dim, dim)
        w["rms_ffn"] = take(layers, dim)
        w["w1"] = take(layers, hidden, dim)
        w["w2"] = take(layers, dim, hidden)
        w["w3"] = take(layers, hidden, dim)
        w["rms_final"] = take(dim)
        take(seq, hd)  # freq_cis_real and freq_cis_imag
    w["cls"] = w["tok"] if tied else take(vocab, dim)
    assert pos[0] == floats.size, "checkpoint size mismatch"
    return cfg, w


def inverse_frequencies(hd, theta, scaling=None):
    """Hugging Face's rope frequencies (transformers' modeling_rope_utils):
    theta^(-2j/hd), then `rope_scaling` ("linear" divides them by factor;
    "llama3" as _compute_llama3_parameters)."""
    inv_freq = 1.0 / (theta ** (np.arange(0, hd, 2, dtype=np.float64) / hd))
    if not scaling or scaling.get("rope_type", scaling.get("type")) == "default":
        return inv_freq
    kind, factor = scaling.get("rope_type", scaling.get("type")), scaling["factor"]
    if kind == "linear":
        return inv_freq / factor
    assert kind == "llama3", kind
    low, high = scaling["low_freq_factor"], scaling["high_freq_factor"]
    old_context_len = scaling["original_max_position_embeddings"]
    low_freq_wavelen = old_context_len / low
    high_freq_wavelen = old_context_len / high
    wavelen = 2 * np.pi / inv_freq
    inv_freq_llama = np.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth_factor = (old_context_len / wavelen - low) / (high - low)
    smoothed = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
    is_medium = ~(wavelen < high_freq_wavelen) & ~(wavelen > low_freq_wavelen)
    return np.where(is_medium, smoothed, inv_freq_llama)


def _rope(x, positions, hd, theta, interleaved, scaling=None):
    """x: [T, H*hd] float64. Rotates pair j by angle pos * freq_j."""
    T = x.shape[0]
    x = x.reshape(T, -1, hd).copy()
    half = hd // 2
    freq = inverse_frequencies(hd, theta, scaling)
    ang = positions[:, None] * freq[None, :]
    c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    if interleaved:
        a, b = x[..., 0::2].copy(), x[..., 1::2].copy()
        x[..., 0::2] = a * c - b * s
        x[..., 1::2] = a * s + b * c
    else:
        a, b = x[..., :half].copy(), x[..., half:].copy()
        x[..., :half] = a * c - b * s
        x[..., half:] = a * s + b * c
    return x.reshape(T, -1)


def _rmsnorm(x, w, eps):
    return w * (x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps))


def forward(cfg, w, tokens, interleaved=True, sliding_window=None):
    """Logits [T, vocab] (float64) for tokens at positions 0..T-1, causal;
    with a sliding window W, position i sees positions j with i - W < j <= i
    (Hugging Face Mistral's mask: sliding_window positions, itself included)."""
    W = {k: np.asarray(v, dtype=np.float64) for k, v in w.items()}
    T = len(tokens)
    hd, H, KV = cfg.head_dim, cfg.n_heads, cfg.n_kv_heads
    positions = np.arange(T, dtype=np.float64)
    x = W["tok"][np.asarray(tokens)]
    mask = np.triu(np.full((T, T), -np.inf), k=1)
    if sliding_window:
        i, j = np.indices((T, T))
        mask[i - j >= sliding_window] = -np.inf
    for l in range(cfg.n_layers):
        h = _rmsnorm(x, W["rms_att"][l], cfg.norm_eps)
        # Qwen2's q/k/v biases, added before rope as in its modeling code
        bias = {n: W[n][l] if n in W else 0.0 for n in ("bq", "bk", "bv")}
        q = _rope(h @ W["wq"][l].T + bias["bq"], positions, hd, cfg.rope_theta, interleaved,
                  cfg.rope_scaling)
        k = _rope(h @ W["wk"][l].T + bias["bk"], positions, hd, cfg.rope_theta, interleaved,
                  cfg.rope_scaling)
        v = h @ W["wv"][l].T + bias["bv"]
        q = q.reshape(T, H, hd)
        k = k.reshape(T, KV, hd)
        v = v.reshape(T, KV, hd)
        out = np.empty((T, H, hd))
        for head in range(H):
            kvh = head // (H // KV)
            scores = q[:, head, :] @ k[:, kvh, :].T / np.sqrt(hd) + mask
            scores -= scores.max(axis=1, keepdims=True)
            p = np.exp(scores)
            p /= p.sum(axis=1, keepdims=True)
            out[:, head, :] = p @ v[:, kvh, :]
        x = x + out.reshape(T, -1) @ W["wo"][l].T
        h = _rmsnorm(x, W["rms_ffn"][l], cfg.norm_eps)
        g = h @ W["w1"][l].T
        u = h @ W["w3"][l].T
        x = x + ((g / (1.0 + np.exp(-g))) * u) @ W["w2"][l].T
    x = _rmsnorm(x, W["rms_final"], cfg.norm_eps)
    return x @ W["cls"].T


def load_npy(path):
    return np.load(path)
