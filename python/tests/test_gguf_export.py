"""python/qopt_ref/gguf_export.py: the GGUF files bench_llamacpp.py hands to llama.cpp.

The file is read back by a reader written here from the GGUF specification
(header, metadata, tensor table, 32-byte aligned data), and the Q8_0 / Q4_0
blocks are decoded by ggml's layout, not the exporter's. llama.cpp itself
checks the whole file in bench_llamacpp.py (its greedy stories260K text).

  QOPT_SHARED=../shared /usr/bin/python3 python/tests/test_gguf_export.py
"""
import os
import struct
import sys
import tempfile
import unittest

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "python"))
from qopt_ref import gguf_export, llama  # noqa: E402

SHARED = os.environ.get("QOPT_SHARED", os.path.join(ROOT, "..", "shared"))
MODEL = os.path.join(SHARED, "models", "stories260K")


def read_gguf(path):
    """(metadata dict, {name: (ggml type, ne, raw bytes)})."""
    data = open(path, "rb").read()
    assert data[:4] == b"GGUF"
    version, n_tensors, n_kv = struct.unpack_from("<IQQ", data, 4)
    assert version == 3
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
        fmt = {4: "<I", 5: "<i", 6: "<f"}[t]
        at += 4
        return struct.unpack_from(fmt, data, at - 4)[0]

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
    base = -(-at // meta.get("general.alignment", 32)) * meta.get("general.alignment", 32)
    tensors = {}
    for name, t, ne, off in infos:
        assert off % 32 == 0, name
        count = int(np.prod(ne))
        size = {0: count * 4, 8: count // 32 * 34, 2: count // 32 * 18}[t]
        tensors[name] = (t, ne, data[base + off:base + off + size])
    return meta, tensors


def dequantize(t, ne, raw):
    """ggml's block layouts, from the specification."""
    if t == 0:
        return np.frombuffer(raw, "<f4").reshape(ne[::-1])
    size = 34 if t == 8 else 18
    blocks = np.frombuffer(raw, np.uint8).reshape(-1, size)
    d = blocks[:, :2].copy().view("<f2").astype(np.float32)
    if t == 8:
        q = blocks[:, 2:].view(np.int8).astype(np.float32)
    else:
        nib = blocks[:, 2:]
        q = np.concatenate([nib & 15, nib >> 4], axis=1).astype(np.float32) - 8
    return (q * d).reshape(ne[::-1])


class GgufExport(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cfg, cls.w = llama.read_llama2c(os.path.join(MODEL, "stories260K.bin"))
        cls.tmp = tempfile.TemporaryDirectory()

    def export(self, type_name):
        path = os.path.join(self.tmp.name, type_name + ".gguf")
        gguf_export.export(self.cfg, self.w, path, type_name, os.path.join(MODEL, "tok512.bin"))
        return read_gguf(path)

    def test_metadata_and_vocabulary(self):
        meta, tensors = self.export("F32")
        self.assertEqual(meta["general.architecture"], "llama")
        self.assertEqual(meta["llama.attention.head_count_kv"], 4)
        self.assertEqual(meta["llama.rope.dimension_count"], 8)
        tokens = meta["tokenizer.ggml.tokens"]
        self.assertEqual(len(tokens), 512)
        self.assertTrue(all(" " not in t for t in tokens))  # spaces are U+2581
        types = meta["tokenizer.ggml.token_type"]
        self.assertEqual(types[:4], [2, 3, 3, 6])
        self.assertEqual(len(tensors), 2 + 9 * self.cfg.n_layers)  # tied: no output.weight
        self.assertNotIn("output.weight", tensors)

    def test_f32_tensors_are_the_weights(self):
        _, tensors = self.export("F32")
        t, ne, raw = tensors["blk.2.attn_k.weight"]
        self.assertEqual(ne, (64, 32))  # ne[0] is the row length
        np.testing.assert_array_equal(dequantize(t, ne, raw), self.w["wk"][2])

    def test_quantized_blocks_within_their_step(self):
        # Q4_0 maps the largest magnitude to -8 steps, so the opposite side
        # reaches only +7: up to one whole step there
        for type_name, levels, bound in (("Q8_0", 127, 0.5), ("Q4_0", 8, 1.0)):
            _, tensors = self.export(type_name)
            t, ne, raw = tensors["blk.1.attn_q.weight"]
            self.assertEqual(t, gguf_export.TYPES[type_name])
            w = self.w["wq"][1]
            deq = dequantize(t, ne, raw)
            step = np.abs(w.reshape(-1, 32)).max(axis=1, keepdims=True) / levels
            err = np.abs(deq - w).reshape(-1, 32)
            # the bound, plus the f16 rounding of the scale times the largest code
            self.assertTrue(np.all(err <= step * (bound + levels * 2 ** -10) + 1e-7), type_name)
            self.assertGreater(err.max(), 0)
            # rows of 172 (w2's hidden) are no whole number of blocks: left in f32
            self.assertEqual(tensors["blk.0.ffn_down.weight"][0], 0)

    def test_q4_0_nibble_order(self):
        w = np.arange(64, dtype=np.float32).reshape(1, 64) - 40
        raw, deq = gguf_export.quantize_q4_0(w)
        np.testing.assert_allclose(dequantize(2, (64, 1), raw), deq)
        # the block's largest magnitude (-40) maps to code 0, i.e. -8 steps
        self.assertEqual(raw[2] & 15, 0)


if __name__ == "__main__":
    unittest.main()
