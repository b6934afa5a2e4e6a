"""A GGUF reader written from the specification (ggml's docs/gguf.md and the
block_* structs of ggml-common.h), independent of qopt's C++ reader: the
oracle the tests hold qopt's GGUF files to. The K-quants are decoded as
llama.cpp's own numpy reader does it (gguf-py/gguf/quants.py, Q2_K .. Q6_K
dequantize_blocks), transcribed.

  read(path) -> (metadata dict, {name: (ggml type, ne, raw bytes)})
  dequantize(type, ne, raw) -> float32 array in PyTorch order (ne reversed)
"""
import struct

import numpy as np

F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, BF16 = 0, 1, 2, 3, 6, 7, 8, 30
Q2_K, Q3_K, Q4_K, Q5_K, Q6_K = 10, 11, 12, 13, 14
NAMES = {F32: "F32", F16: "F16", Q4_0: "Q4_0", Q4_1: "Q4_1", Q5_0: "Q5_0", Q5_1: "Q5_1",
         Q8_0: "Q8_0", BF16: "BF16", Q2_K: "Q2_K", Q3_K: "Q3_K", Q4_K: "Q4_K",
         Q5_K: "Q5_K", Q6_K: "Q6_K"}
# (elements, bytes) per block
SIZES = {F32: (1, 4), F16: (1, 2), BF16: (1, 2), Q4_0: (32, 18), Q4_1: (32, 20),
         Q5_0: (32, 22), Q5_1: (32, 24), Q8_0: (32, 34), Q2_K: (256, 84), Q3_K: (256, 110),
         Q4_K: (256, 144), Q5_K: (256, 176), Q6_K: (256, 210)}
K_QUANTS = (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K)
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
            10: "<Q", 11: "<q", 12: "<d"}


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    assert data[:4] == b"GGUF", "no GGUF magic"
    version, n_tensors, n_kv = struct.unpack_from("<IQQ", data, 4)
    assert version in (2, 3), version
    at = 24

    def string():
        nonlocal at
        n = struct.unpack_from("<Q", data, at)[0]
        at += 8 + n
        return data[at - n:at].decode("utf-8")

    def value(t):
        nonlocal at
        if t == 8:
            return string()
        if t == 9:
            et, n = struct.unpack_from("<IQ", data, at)
            at += 12
            return [value(et) for _ in range(n)]
        fmt = _SCALARS[t]
        at += struct.calcsize(fmt)
        return struct.unpack_from(fmt, data, at - struct.calcsize(fmt))[0]

    meta = {}
    for _ in range(n_kv):
        key = string()
        t = struct.unpack_from("<I", data, at)[0]
        at += 4
        meta[key] = value(t)
    infos = []
    for _ in range(n_tensors):
        name = string()
        nd = struct.unpack_from("<I", data, at)[0]
        ne = struct.unpack_from(f"<{nd}Q", data, at + 4)
        t, off = struct.unpack_from("<IQ", data, at + 4 + 8 * nd)
        at += 4 + 8 * nd + 12
        infos.append((name, t, ne, off))
    align = meta.get("general.alignment", 32)
    base = -(-at // align) * align
    tensors = {}
    for name, t, ne, off in infos:
        assert off % align == 0, name
        elems, size = SIZES[t]
        nbytes = int(np.prod(ne)) // elems * size
        assert base + off + nbytes <= len(data), name
        tensors[name] = (t, tuple(ne), data[base + off:base + off + nbytes])
    return meta, tensors


def _f16(b):
    return b.copy().view("<f2").astype(np.float32)


def _k_scale_min(s):
    """Q4_K / Q5_K's 12 scale bytes -> eight 6-bit scales and eight 6-bit mins."""
    a, b, c = s[:, 0:4], s[:, 4:8], s[:, 8:12]
    sc = np.concatenate([a & 63, (c & 15) | ((a >> 6) << 4)], axis=1)
    mn = np.concatenate([b & 63, (c >> 4) | ((b >> 6) << 4)], axis=1)
    return sc.astype(np.float32), mn.astype(np.float32)


def _dequantize_k(t, b):
    """Super-blocks b [n, bytes] -> [n, 256] float32."""
    n = len(b)
    f32 = np.float32
    if t == Q2_K:
        sc, qs = b[:, :16], b[:, 16:80]
        d, dmin = _f16(b[:, 80:82]), _f16(b[:, 82:84])
        dl, ml = d * (sc & 15).astype(f32), dmin * (sc >> 4).astype(f32)
        # sub-block order: 128-halves, then the four 2-bit planes, then 16-byte halves
        q = (qs.reshape(n, 2, 1, 2, 16) >> (2 * np.arange(4, dtype=np.uint8)).reshape(1, 1, 4, 1, 1)) & 3
        return (dl[:, :, None] * q.reshape(n, 16, 16).astype(f32) - ml[:, :, None]).reshape(n, 256)
    if t == Q3_K:
        hmask, qs, s, d = b[:, :32], b[:, 32:96], b[:, 96:108], _f16(b[:, 108:110])
        low = np.concatenate([s[:, :8] & 15, s[:, :8] >> 4], axis=1)
        high = ((s[:, None, 8:12] >> (2 * np.arange(4, dtype=np.uint8)).reshape(1, 4, 1)) & 3).reshape(n, 16)
        dl = d * ((low | (high << 4)).astype(np.int8) - np.int8(32)).astype(f32)
        q = (qs.reshape(n, 2, 1, 2, 16) >> (2 * np.arange(4, dtype=np.uint8)).reshape(1, 1, 4, 1, 1)) & 3
        bit = (hmask.reshape(n, 1, 1, 2, 16) >> np.arange(8, dtype=np.uint8).reshape(1, 2, 4, 1, 1)) & 1
        v = q.astype(np.int8) - ((bit ^ 1) << 2).astype(np.int8)
        return (dl[:, :, None] * v.reshape(n, 16, 16).astype(f32)).reshape(n, 256)
    if t in (Q4_K, Q5_K):
        d, dmin = _f16(b[:, 0:2]), _f16(b[:, 2:4])
        sc, mn = _k_scale_min(b[:, 4:16])
        qs = b[:, 48:176] if t == Q5_K else b[:, 16:144]
        q = ((qs.reshape(n, 4, 1, 32) >> np.array([0, 4], np.uint8).reshape(1, 1, 2, 1)) & 15)
        q = q.reshape(n, 8, 32)
        if t == Q5_K:
            fifth = (b[:, None, 16:48] >> np.arange(8, dtype=np.uint8).reshape(1, 8, 1)) & 1
            q = q | (fifth << 4)
        return ((d * sc)[:, :, None] * q.astype(f32) - (dmin * mn)[:, :, None]).reshape(n, 256)
    ql, qh = b[:, :128], b[:, 128:192]
    sc, d = b[:, 192:208].view(np.int8).astype(f32), _f16(b[:, 208:210])
    lo = ((ql.reshape(n, 2, 1, 64) >> np.array([0, 4], np.uint8).reshape(1, 1, 2, 1)) & 15).reshape(n, 2, 4, 32)
    hi = (qh.reshape(n, 2, 1, 32) >> (2 * np.arange(4, dtype=np.uint8)).reshape(1, 1, 4, 1)) & 3
    q = ((lo | (hi << 4)).astype(np.int8) - np.int8(32)).astype(f32)
    return ((d * sc)[:, :, None] * q.reshape(n, 16, 16)).reshape(n, 256)


def dequantize(t, ne, raw):
    shape = tuple(reversed(ne))
    if t in K_QUANTS:
        b = np.frombuffer(raw, np.uint8).reshape(-1, SIZES[t][1])
        return _dequantize_k(t, b).reshape(shape)
    if t == F32:
        return np.frombuffer(raw, "<f4").reshape(shape).copy()
    if t == F16:
        return np.frombuffer(raw, "<f2").astype(np.float32).reshape(shape)
    if t == BF16:
        bits = np.frombuffer(raw, "<u2").astype(np.uint32) << 16
        return bits.view(np.float32).reshape(shape)
    size = SIZES[t][1]
    b = np.frombuffer(raw, np.uint8).reshape(-1, size)
    d = _f16(b[:, 0:2])
    if t == Q8_0:
        return (b[:, 2:].view(np.int8).astype(np.float32) * d).reshape(shape)
    has_min = t in (Q4_1, Q5_1)
    m = _f16(b[:, 2:4]) if has_min else 0
    at = 4 if has_min else 2
    if t in (Q5_0, Q5_1):
        qh = b[:, at:at + 4].copy().view("<u4")[:, 0]
        at += 4
        high = ((qh[:, None] >> np.arange(32, dtype=np.uint32)) & 1).astype(np.uint8) << 4
    else:
        high = 0
    qs = b[:, at:at + 16]
    q = (np.concatenate([qs & 15, qs >> 4], axis=1) | high).astype(np.float32)
    if has_min:
        return (q * d + m).reshape(shape)
    offset = 16 if t == Q5_0 else 8
    return ((q - offset) * d).reshape(shape)


def llama_weights(meta, tensors):
    """The float32 weights of a llama GGUF in llama2.c naming (python/qopt_ref/llama.py)."""
    arch = meta["general.architecture"]
    n = meta[f"{arch}.block_count"]

    def get(name):
        return dequantize(*tensors[name])

    w = {"tok": get("token_embd.weight"), "rms_final": get("output_norm.weight")}
    w["cls"] = get("output.weight") if "output.weight" in tensors else w["tok"]
    for key, leaf in (("rms_att", "attn_norm"), ("wq", "attn_q"), ("wk", "attn_k"),
                      ("wv", "attn_v"), ("wo", "attn_output"), ("rms_ffn", "ffn_norm"),
                      ("w1", "ffn_gate"), ("w2", "ffn_down"), ("w3", "ffn_up")):
        w[key] = np.stack([get(f"blk.{l}.{leaf}.weight") for l in range(n)])
    return w
