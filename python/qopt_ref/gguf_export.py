"""Writes a llama2.c model as a GGUF file that llama.cpp loads, for comparing speed
with llama.cpp on the very same weights.

Tensor types follow ggml's reference quantizers (ggml-quants.c, *_ref):
  F32   as is;
  Q8_0  blocks of 32: f16 d = absmax/127, int8 q = round-half-away(x/d);
  Q4_0  blocks of 32: f16 d = (the value of largest magnitude)/-8,
        q = min(15, trunc(x/d + 8.5)), two per byte (element j low nibble,
        j+16 high nibble), value (q-8)*d.
Norm weights stay F32 whatever the type, as llama.cpp's own quantizer keeps
them. Rope: llama.cpp's "llama" architecture rotates adjacent pairs, as
llama2.c does, so q/k rows are written unpermuted.
"""
import os
import struct

import numpy as np

GGML_F32, GGML_Q4_0, GGML_Q8_0 = 0, 2, 8
TYPES = {"F32": GGML_F32, "Q8_0": GGML_Q8_0, "Q4_0": GGML_Q4_0}
BLOCK = 32
ALIGNMENT = 32

# GGUF metadata value types
U32, I32, F32_V, STRING, ARRAY = 4, 5, 6, 8, 9


def _round_half_away(x):
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def quantize_q8_0(w):
    """[rows, cols] float32 -> bytes of rows*cols/32 Q8_0 blocks, and the dequantized values."""
    blocks = w.astype(np.float32).reshape(-1, BLOCK)
    amax = np.abs(blocks).max(axis=1, keepdims=True)
    d = (amax / 127).astype(np.float32)
    inv = np.divide(1.0, d, out=np.zeros_like(d), where=d != 0)
    q = _round_half_away(blocks * inv).astype(np.int8)
    d16 = d.astype(np.float16)
    raw = np.empty((blocks.shape[0], 34), np.uint8)
    raw[:, :2] = d16.view(np.uint8)
    raw[:, 2:] = q.view(np.uint8)
    return raw.tobytes(), (q.astype(np.float32) * d16.astype(np.float32)).reshape(w.shape)


def quantize_q4_0(w):
    """[rows, cols] float32 -> bytes of Q4_0 blocks, and the dequantized values."""
    blocks = w.astype(np.float32).reshape(-1, BLOCK)
    at = np.abs(blocks).argmax(axis=1)
    signed_max = blocks[np.arange(blocks.shape[0]), at][:, None]
    d = (signed_max / -8).astype(np.float32)
    inv = np.divide(1.0, d, out=np.zeros_like(d), where=d != 0)
    q = np.minimum(15, np.trunc(blocks * inv + 8.5)).astype(np.uint8)
    d16 = d.astype(np.float16)
    raw = np.empty((blocks.shape[0], 18), np.uint8)
    raw[:, :2] = d16.view(np.uint8)
    raw[:, 2:] = q[:, :16] | (q[:, 16:] << 4)
    deq = (q.astype(np.float32) - 8) * d16.astype(np.float32)
    return raw.tobytes(), deq.reshape(w.shape)


def encode_tensor(w, type_name):
    """(ggml type, raw bytes) of one weight. 1-D tensors, F32, and rows that are not a
    whole number of blocks (stories260K's hidden 172; llama.cpp's quantizer falls back
    the same way) are written as float32."""
    if w.ndim == 1 or type_name == "F32" or w.shape[-1] % BLOCK:
        return GGML_F32, np.ascontiguousarray(w, np.float32).tobytes()
    quantize = quantize_q8_0 if type_name == "Q8_0" else quantize_q4_0
    return TYPES[type_name], quantize(w)[0]


def gguf_tensors(cfg, w):
    """(GGUF name, array) in llama.cpp's naming for a llama2.c weight dict."""
    out = [("token_embd.weight", w["tok"]), ("output_norm.weight", w["rms_final"])]
    if not cfg.tied:
        out.append(("output.weight", w["cls"]))
    for l in range(cfg.n_layers):
        p = f"blk.{l}."
        out += [(p + "attn_norm.weight", w["rms_att"][l]), (p + "attn_q.weight", w["wq"][l]),
                (p + "attn_k.weight", w["wk"][l]), (p + "attn_v.weight", w["wv"][l]),
                (p + "attn_output.weight", w["wo"][l]), (p + "ffn_norm.weight", w["rms_ffn"][l]),
                (p + "ffn_gate.weight", w["w1"][l]), (p + "ffn_down.weight", w["w2"][l]),
                (p + "ffn_up.weight", w["w3"][l])]
    return out


def _string(s):
    b = s.encode("utf-8") if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def _value(vtype, v):
    if vtype == STRING:
        return _string(v)
    if vtype == ARRAY:
        etype, items = v
        body = b"".join(_value(etype, x) for x in items) if etype == STRING else \
            np.asarray(items, {U32: "<u4", I32: "<i4", F32_V: "<f4"}[etype]).tobytes()
        return struct.pack("<IQ", etype, len(items)) + body
    return struct.pack({U32: "<I", I32: "<i", F32_V: "<f"}[vtype], v)


def vocab_metadata(tokenizer_path):
    """llama2.c tokenizer.bin as SentencePiece ("llama") GGUF vocabulary."""
    with open(tokenizer_path, "rb") as f:
        data = f.read()
    at, pieces, scores = 4, [], []
    while at < len(data):
        score, n = struct.unpack_from("<fi", data, at)
        pieces.append(data[at + 8:at + 8 + n].replace(b" ", "\u2581".encode()))
        scores.append(score)
        at += 8 + n
    # 2 unknown, 3 control, 6 byte, 1 normal (llama.cpp's llama_token_type)
    types = [2 if i == 0 else 3 if i in (1, 2) else
             6 if p.startswith(b"<0x") and len(p) == 6 else 1 for i, p in enumerate(pieces)]
    return [("tokenizer.ggml.model", STRING, "llama"),
            ("tokenizer.ggml.tokens", ARRAY, (STRING, pieces)),
            ("tokenizer.ggml.scores", ARRAY, (F32_V, scores)),
            ("tokenizer.ggml.token_type", ARRAY, (I32, types)),
            ("tokenizer.ggml.bos_token_id", U32, 1), ("tokenizer.ggml.eos_token_id", U32, 2),
            ("tokenizer.ggml.unknown_token_id", U32, 0)]


def export(cfg, w, path, type_name, tokenizer_path, name="qopt", encode=None):
    """Writes path (atomically) holding the model with its matrices in type_name;
    encode(gguf_name, array) -> (ggml type, raw bytes) or None overrides the
    encoding of the tensors it returns a pair for."""
    if type_name not in TYPES:
        raise ValueError(f"unknown GGUF type {type_name}; one of {', '.join(TYPES)}")
    meta = [("general.architecture", STRING, "llama"), ("general.name", STRING, name),
            ("general.alignment", U32, ALIGNMENT),
            ("llama.context_length", U32, cfg.seq_len),
            ("llama.embedding_length", U32, cfg.dim),
            ("llama.block_count", U32, cfg.n_layers),
            ("llama.feed_forward_length", U32, cfg.hidden_dim),
            ("llama.rope.dimension_count", U32, cfg.head_dim),
            ("llama.rope.freq_base", F32_V, cfg.rope_theta),
            ("llama.attention.head_count", U32, cfg.n_heads),
            ("llama.attention.head_count_kv", U32, cfg.n_kv_heads),
            ("llama.attention.layer_norm_rms_epsilon", F32_V, cfg.norm_eps),
            ("llama.vocab_size", U32, cfg.vocab_size)] + vocab_metadata(tokenizer_path)
    tensors = [(n, *((encode and encode(n, a)) or encode_tensor(np.asarray(a), type_name)),
                a.shape) for n, a in gguf_tensors(cfg, w)]
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(meta))
    for key, vtype, v in meta:
        head += _string(key) + struct.pack("<I", vtype) + _value(vtype, v)
    offset = 0
    for n, ggml_type, raw, shape in tensors:
        dims = list(reversed(shape))  # ggml's ne[0] is the innermost (row) dimension
        head += _string(n) + struct.pack("<I", len(dims)) + struct.pack(f"<{len(dims)}Q", *dims)
        head += struct.pack("<IQ", ggml_type, offset)
        offset += -(-len(raw) // ALIGNMENT) * ALIGNMENT
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(head + b"\0" * (-len(head) % ALIGNMENT))
        for _, _, raw, _ in tensors:
            f.write(raw + b"\0" * (-len(raw) % ALIGNMENT))
    os.replace(tmp, path)
