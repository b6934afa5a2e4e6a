"""python/qopt_ref/gguf_export.py: the GGUF files bench_llamacpp.py hands to llama.cpp.

The file is read back by python/qopt_ref/gguf_read.py, written from the GGUF
specification (header, metadata, tensor table, aligned data), and the Q8_0 /
Q4_0 blocks are decoded by ggml's layout, not the exporter's. llama.cpp itself
checks the whole file in bench_llamacpp.py (its greedy stories260K text).

  QOPT_SHARED=../shared /usr/bin/python3 python/tests/test_gguf_export.py
"""
import os
import sys
import tempfile
import unittest

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "python"))
from qopt_ref import gguf_export, llama  # noqa: E402
from qopt_ref.gguf_read import dequantize, read as read_gguf  # noqa: E402

SHARED = os.environ.get("QOPT_SHARED", os.path.join(ROOT, "..", "shared"))
MODEL = os.path.join(SHARED, "models", "stories260K")


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
