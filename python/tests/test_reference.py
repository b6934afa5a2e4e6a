"""qopt's executor and importers against the independent numpy reference.

Run with QOPT=/path/to/qopt and QOPT_SHARED=/path/to/shared in the environment.
"""
import os
import struct
import subprocess
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from qopt_ref import hf_export, llama, tokenizer  # noqa: E402

QOPT = os.environ.get("QOPT", "qopt")
SHARED = os.environ.get("QOPT_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared"))
MODEL_DIR = os.path.join(SHARED, "models", "stories260K")
V0 = os.path.join(MODEL_DIR, "stories260K.bin")
V1 = os.path.join(MODEL_DIR, "stories260K_v1.bin")
TOK = os.path.join(MODEL_DIR, "tok512.bin")

# Several sequences: a lone BOS, short prompts, and long ones reaching deep
# positions so that rope and the causal mask are exercised far from 0.
RNG = np.random.default_rng(1234)
SEQUENCES = [
    [1],
    [1, 403, 407, 261, 378, 436],
    [1] + RNG.integers(3, 512, size=63).tolist(),
    [1] + RNG.integers(3, 512, size=299).tolist(),
]


def qopt(*args, check=True):
    proc = subprocess.run([QOPT, *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"qopt {' '.join(args)} failed: {proc.stderr}")
    return proc


def qopt_logits(model, tokens, *extra):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "logits.npy")
        qopt("logits", model, "--tokens", ",".join(map(str, tokens)), "-o", out, *extra)
        return np.load(out)


def assert_close(test, got, ref, rel):
    err = np.max(np.abs(got - ref)) / np.max(np.abs(ref))
    test.assertLessEqual(err, rel, f"max abs error relative to max |logit|: {err:.3g}")
    return err


class LogitsAgainstNumpy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cfg, cls.w = llama.read_llama2c(V0)

    def test_llama2c_v0_matches_reference(self):
        worst = 0.0
        for seq in SEQUENCES:
            ref = llama.forward(self.cfg, self.w, seq)
            got = qopt_logits(V0, seq)
            self.assertEqual(got.shape, (len(seq), self.cfg.vocab_size))
            worst = max(worst, assert_close(self, got, ref, 1e-4))
        print(f"\n  llama2.c v0 vs numpy: max error relative to max |logit| = {worst:.2e}",
              file=sys.stderr)

    def test_v0_and_v1_give_identical_logits(self):
        for seq in SEQUENCES:
            np.testing.assert_array_equal(qopt_logits(V0, seq), qopt_logits(V1, seq))

    def test_decode_steps_match_prefill(self):
        seq = SEQUENCES[2]
        np.testing.assert_array_equal(qopt_logits(V0, seq),
                                      qopt_logits(V0, seq, "--stepwise"))

    def test_deterministic_across_thread_counts(self):
        seq = SEQUENCES[3]
        np.testing.assert_array_equal(qopt_logits(V0, seq, "--threads", "1"),
                                      qopt_logits(V0, seq, "--threads", "2"))

    def test_untied_classifier(self):
        cls_w = np.asarray(self.w["tok"]) * 0.5 + 0.01
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "untied.bin")
            with open(V0, "rb") as f:
                data = f.read()
            header = list(struct.unpack_from("<7i", data, 0))
            header[5] = -header[5]
            with open(path, "wb") as f:
                f.write(struct.pack("<7i", *header))
                f.write(data[28:])
                f.write(cls_w.astype("<f4").tobytes())
            w = dict(self.w, cls=cls_w)
            for seq in SEQUENCES[:3]:
                assert_close(self, qopt_logits(path, seq), llama.forward(self.cfg, w, seq), 1e-4)


class HuggingFaceImport(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cfg, cls.w = llama.read_llama2c(V0)
        cls.tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def export(self, name, dtype, shards=1):
        out = os.path.join(self.tmp.name, name)
        hf_export.export(self.cfg, self.w, out, dtype=dtype, shards=shards, tokenizer=TOK)
        return out

    def test_f32_matches_llama2c(self):
        hf = self.export("f32", "F32")
        for seq in SEQUENCES:
            assert_close(self, qopt_logits(hf, seq), qopt_logits(V0, seq), 1e-5)

    def test_half_precision_dtypes_match_reference(self):
        for dtype in ("F16", "BF16"):
            hf = self.export(dtype.lower(), dtype)
            w = hf_export.rounded_weights(self.w, dtype)
            for seq in SEQUENCES[1:3]:
                assert_close(self, qopt_logits(hf, seq), llama.forward(self.cfg, w, seq), 1e-4)

    def test_sharded_checkpoint(self):
        hf = self.export("sharded", "F32", shards=3)
        seq = SEQUENCES[2]
        np.testing.assert_array_equal(qopt_logits(hf, seq),
                                      qopt_logits(self.export("single", "F32"), seq))

    def test_import_writes_mlir_that_runs_the_same(self):
        hf = self.export("import-src", "BF16")
        mlir = os.path.join(self.tmp.name, "imported", "model.mlir")
        os.makedirs(os.path.dirname(mlir))
        qopt("import", hf, "-o", mlir)
        self.assertTrue(os.path.exists(mlir[:-5] + ".safetensors"))
        with open(mlir) as f:
            self.assertIn("rotate_half", f.read())
        seq = SEQUENCES[2]
        np.testing.assert_array_equal(qopt_logits(mlir, seq), qopt_logits(hf, seq))


class TokenizerAgainstLlama2c(unittest.TestCase):
    def test_encoding_matches_transcription(self):
        ref = tokenizer.Tokenizer(TOK)
        texts = ["Once upon a time", "Lily's mom said, \"Lily, let's go!\"", "a",
                 "naïve café — 東京 🙂", "  two  spaces\nand a newline\ttab"]
        with open(os.path.join(SHARED, "data", "tinystories", "sample.txt")) as f:
            texts.append(f.read()[:2000])
        for text in texts:
            got = qopt("logits", V0, "-p", text, "--print-tokens").stdout.split()
            self.assertEqual([int(t) for t in got], ref.encode(text), text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
