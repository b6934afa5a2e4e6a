"""A GGUF reader written from the specification (ggml's docs/gguf.md and the
block_* structs of ggml-common.h), independent of qopt's C++ reader: the
oracle the tests hold qopt's GGUF files to.

  read(path) -> (metadata dict, {name: (ggml type, ne, raw bytes)})
  dequantize(type, ne, raw) -> float32 array in PyTorch order (ne reversed)
"""
import struct

import numpy as np

F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, BF16 = 0, 1, 2, 3, 6, 7, 8, 30
NAMES = {F32: "F32", F16: "F16", Q4_0: "Q4_0", Q4_1: "Q4_1", Q5_0: "Q5_0", Q5_1: "Q5_1",
         Q8_0: "Q8_0", BF16: "BF16"}
# (elements, bytes) per block
SIZES = {F32: (1, 4), F16: (1, 2), BF16: (1, 2), Q4_0: (32, 18), Q4_1: (32, 20),
         Q5_0: (32, 22), Q5_1: (32, 24), Q8_0: (32, 34)}
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


def dequantize(t, ne, raw):
    shape = tuple(reversed(ne))
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
