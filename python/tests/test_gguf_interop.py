"""qopt export --format gguf and qopt import of GGUF files.

The GGUF qopt writes is read by python/qopt_ref/gguf_read.py (written from the
specification, not from qopt's C++), its weights run through the numpy
reference forward and compared with qopt's logits of the quantized IR it came
from; export -> import -> export round trips are byte-identical; a GGUF
written by python/qopt_ref/gguf_export.py imports and gives its logits; and
damaged files are refused with one-line errors. llama.cpp itself checks the
files in scripts/check_gguf_llamacpp.py.

  QOPT=build/bin/qopt QOPT_SHARED=../shared /usr/bin/python3 python/tests/test_gguf_interop.py
"""
import os
import struct
import subprocess
import sys
import tempfile
import unittest

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "python"))
from qopt_ref import gguf_export, gguf_read, hf_export, llama  # noqa: E402

QOPT = os.environ.get("QOPT", os.path.join(ROOT, "build", "bin", "qopt"))
SHARED = os.environ.get("QOPT_SHARED", os.path.join(ROOT, "..", "shared"))
MODEL = os.path.join(SHARED, "models", "stories260K")
CALIB = os.path.join(SHARED, "data", "tinystories", "sample.txt")
TOKENS = [1, 403, 407, 261, 378, 429, 267, 400, 260, 288, 1]

# (qopt compile arguments, the ggml type its matrices must land in)
SCHEMES = {
    "w4g32": (["--recipe", "rtn", "--bits", "4", "--group-size", "32"], gguf_read.Q4_0),
    "w4g64": (["--recipe", "rtn", "--bits", "4", "--group-size", "64"], gguf_read.Q4_0),
    "w5g32": (["--recipe", "rtn", "--bits", "5", "--group-size", "32"], gguf_read.Q5_0),
    "w8pc": (["--recipe", "rtn", "--bits", "8", "--group-size", "0"], gguf_read.Q8_0),
    "gptq": (["--recipe", "gptq", "--bits", "4", "--group-size", "32", "--calib", CALIB,
              "--calib-samples", "8", "--calib-seqlen", "64"], gguf_read.Q4_0),
}


def qopt(*args, check=True):
    proc = subprocess.run([QOPT, *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"qopt {' '.join(args)} failed: {proc.stderr}")
    return proc


def qopt_logits(model, tokens):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "logits.npy")
        qopt("logits", model, "--tokens", ",".join(map(str, tokens)), "-o", out)
        return np.load(out)


def assert_close(test, got, ref, rel):
    err = np.max(np.abs(got - ref)) / np.max(np.abs(ref))
    test.assertLessEqual(err, rel, f"max abs error relative to max |logit|: {err:.3g}")


class ExportedGguf(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name
        cls.base = os.path.join(cls.dir, "base.mlir")
        qopt("import", os.path.join(MODEL, "stories260K.bin"), "--tokenizer",
             os.path.join(MODEL, "tok512.bin"), "-o", cls.base)
        cls.cfg, cls.w = llama.read_llama2c(os.path.join(MODEL, "stories260K.bin"))
        cls.models = {}
        for name, (args, _) in SCHEMES.items():
            mlir = os.path.join(cls.dir, name + ".mlir")
            qopt("compile", cls.base, "-o", mlir, *args)
            gguf = os.path.join(cls.dir, name + ".gguf")
            # stories260K's w2 rows (172) are no whole number of blocks: F32
            proc = qopt("export", mlir, "-o", gguf, "--allow-requant")
            cls.models[name] = (mlir, gguf, proc.stderr)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_weights_are_the_quantized_ir(self):
        """The independent reader's weights, run by the numpy forward, give
        qopt's logits of the IR: names, block layouts and q/k order agree."""
        for name, (mlir, gguf, stderr) in self.models.items():
            with self.subTest(name):
                self.assertIn("every weight exact", stderr)
                meta, tensors = gguf_read.read(gguf)
                self.assertEqual(meta["general.architecture"], "llama")
                self.assertEqual(meta["llama.attention.head_count_kv"], self.cfg.n_kv_heads)
                self.assertEqual(len(meta["tokenizer.ggml.tokens"]), self.cfg.vocab_size)
                self.assertEqual(tensors["blk.0.attn_q.weight"][0], SCHEMES[name][1])
                self.assertEqual(tensors["blk.3.ffn_up.weight"][0], SCHEMES[name][1])
                self.assertEqual(tensors["blk.0.ffn_down.weight"][0], gguf_read.F32)
                w = gguf_read.llama_weights(meta, tensors)
                assert_close(self, qopt_logits(mlir, TOKENS),
                             llama.forward(self.cfg, w, TOKENS), 1e-4)

    def test_round_trip_is_bit_identical(self):
        for name, (mlir, gguf, _) in self.models.items():
            with self.subTest(name):
                back = os.path.join(self.dir, name + "-back.mlir")
                proc = qopt("import", gguf, "-o", back)
                self.assertIn("30 weights kept quantized", proc.stderr)
                np.testing.assert_array_equal(qopt_logits(back, TOKENS),
                                              qopt_logits(mlir, TOKENS))
                again = os.path.join(self.dir, name + "-again.gguf")
                qopt("export", back, "-o", again, "--quiet")
                with open(gguf, "rb") as a, open(again, "rb") as b:
                    self.assertTrue(a.read() == b.read(), "re-exported GGUF differs")

    def test_gguf_runs_directly(self):
        mlir, gguf, _ = self.models["w4g32"]
        np.testing.assert_array_equal(qopt_logits(gguf, TOKENS), qopt_logits(mlir, TOKENS))
        a = qopt("run", gguf, "-p", "Once upon a time", "-n", "30", "-t", "0").stdout
        b = qopt("run", mlir, "-p", "Once upon a time", "-n", "30", "-t", "0").stdout
        self.assertEqual(a, b)
        self.assertGreater(len(a), 40)

    def test_ragged_rows_are_refused_without_allow_requant(self):
        mlir, _, _ = self.models["w4g32"]
        out = os.path.join(self.dir, "strict.gguf")
        proc = qopt("export", mlir, "-o", out, check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertEqual(len(proc.stderr.strip().splitlines()), 1, proc.stderr)
        self.assertIn("5 weight(s) have no exact GGUF type", proc.stderr)
        self.assertIn("layers.4.w2 (int4 g32 sym): rows of 172 are not whole blocks of 32",
                      proc.stderr)
        self.assertFalse(os.path.exists(out))

    def test_asymmetric_keeps_codes_and_rounds_m(self):
        """Q4_1's m = -zero * scale is rarely an f16 value: refused strictly;
        with --allow-requant the codes and scales stay, m is rounded."""
        mlir = os.path.join(self.dir, "asym.mlir")
        qopt("compile", self.base, "-o", mlir, "--recipe", "rtn", "--bits", "4",
             "--group-size", "32", "--symmetric=false")
        out = os.path.join(self.dir, "asym.gguf")
        strict = qopt("export", mlir, "-o", out, check=False)
        self.assertEqual(strict.returncode, 1)
        self.assertIn("is not an f16 value", strict.stderr)
        proc = qopt("export", mlir, "-o", out, "--allow-requant")
        self.assertIn("re-rounded", proc.stderr)
        meta, tensors = gguf_read.read(out)
        self.assertEqual(tensors["blk.1.attn_v.weight"][0], gguf_read.Q4_1)
        assert_close(self, llama.forward(self.cfg, gguf_read.llama_weights(meta, tensors),
                                         TOKENS), qopt_logits(mlir, TOKENS), 2e-3)

    def test_hugging_face_rows_are_put_back_in_llama_cpp_order(self):
        """An HF import keeps rotate-half q/k rows; the GGUF has llama2.c's."""
        hf = os.path.join(self.dir, "hf")
        hf_export.export(self.cfg, self.w, hf, "F32", tokenizer=os.path.join(MODEL, "tok512.bin"))
        imported = os.path.join(self.dir, "hf.mlir")
        qopt("import", hf, "-o", imported)
        # from the directory, and from the IR its import wrote (the pairing
        # is read back from the IR's rope ops)
        for source in (hf, imported):
            out = os.path.join(self.dir, "hf.gguf")
            qopt("export", source, "-o", out)
            meta, tensors = gguf_read.read(out)
            for l in (0, 4):
                for key, leaf in (("wq", "attn_q"), ("wk", "attn_k"), ("w2", "ffn_down")):
                    np.testing.assert_array_equal(
                        gguf_read.dequantize(*tensors[f"blk.{l}.{leaf}.weight"]),
                        self.w[key][l], f"{source}: {leaf}")


class PythonWrittenGguf(unittest.TestCase):
    def test_imports_and_gives_its_logits(self):
        cfg, w = llama.read_llama2c(os.path.join(MODEL, "stories260K.bin"))
        with tempfile.TemporaryDirectory() as tmp:
            for type_name, tol in (("F32", 1e-5), ("Q8_0", 1e-4), ("Q4_0", 1e-4)):
                with self.subTest(type_name):
                    path = os.path.join(tmp, type_name + ".gguf")
                    gguf_export.export(cfg, w, path, type_name, os.path.join(MODEL, "tok512.bin"))
                    meta, tensors = gguf_read.read(path)
                    ref = llama.forward(cfg, gguf_read.llama_weights(meta, tensors), TOKENS)
                    mlir = os.path.join(tmp, type_name + ".mlir")
                    proc = qopt("import", path, "-o", mlir)
                    if type_name != "F32":
                        self.assertIn("30 weights kept quantized", proc.stderr)
                    assert_close(self, qopt_logits(mlir, TOKENS), ref, tol)
                    # the vocabulary came along: the same ids as the llama2.c tokenizer
                    a = qopt("run", mlir, "-p", "Once upon a time", "-n", "20", "-t", "0").stdout
                    self.assertTrue(a.startswith("Once upon a time"), a)

    def test_k_quants_import_as_their_values(self):
        # Q2_K .. Q6_K super-blocks of random bytes (any bytes are a valid
        # block) under small f16 super-block scales, one type per matrix in
        # turn, the embedding table included: qopt's logits must be those of
        # the weights as llama.cpp's numpy reader decodes them
        with tempfile.TemporaryDirectory() as tmp:
            ckpt = os.path.join(tmp, "k.bin")
            subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "scripts", "synth_model.py"),
                            "--shape", "tiny-gqa", "-o", ckpt], check=True, capture_output=True)
            cfg, w = llama.read_llama2c(ckpt)
            rng = np.random.default_rng(3)
            scale_fields = {gguf_read.Q2_K: ((80, 1e-3), (82, 1e-3)),
                            gguf_read.Q3_K: ((108, 4e-4),),
                            gguf_read.Q4_K: ((0, 1e-4), (2, 5e-4)),
                            gguf_read.Q5_K: ((0, 1e-4), (2, 5e-4)),
                            gguf_read.Q6_K: ((208, 2e-5),)}
            order = []

            def k_quant(name, a):
                if a.ndim != 2:
                    return None
                t = gguf_read.K_QUANTS[len(order) % 5]
                order.append(t)
                elems, size = gguf_read.SIZES[t]
                blocks = rng.integers(0, 256, (a.size // elems, size), dtype=np.uint8)
                for at, magnitude in scale_fields[t]:
                    d = (magnitude * rng.uniform(0.5, 1.5, len(blocks))).astype("<f2")
                    blocks[:, at:at + 2] = d.view(np.uint8).reshape(-1, 2)
                return t, blocks.tobytes()

            path = os.path.join(tmp, "k.gguf")
            gguf_export.export(cfg, w, path, "F32", os.path.join(MODEL, "tok512.bin"),
                               encode=k_quant)
            meta, tensors = gguf_read.read(path)
            ref = llama.forward(cfg, gguf_read.llama_weights(meta, tensors), TOKENS)
            mlir = os.path.join(tmp, "k.mlir")
            proc = qopt("import", path, "-o", mlir)
            self.assertIn(f"{len(order)} tensor(s) of Q2_K, Q3_K, Q4_K, Q5_K, Q6_K dequantized "
                          "to F32", proc.stderr)
            assert_close(self, qopt_logits(mlir, TOKENS), ref, 1e-5)


def gguf_bytes(kvs=(), tensors=(), version=3):
    """A GGUF file from parts: kvs as (key, type, raw value bytes), tensors
    as (name, ne, ggml type, offset, data bytes) with the data laid out at
    the given offsets."""
    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kvs))
    for key, t, raw in kvs:
        out += struct.pack("<Q", len(key)) + key.encode() + struct.pack("<I", t) + raw
    for name, ne, t, off, _ in tensors:
        out += struct.pack("<Q", len(name)) + name.encode() + struct.pack("<I", len(ne))
        out += struct.pack(f"<{len(ne)}Q", *ne) + struct.pack("<IQ", t, off)
    out += b"\0" * (-len(out) % 32)
    data = bytearray()
    for _, _, _, off, raw in tensors:
        data += b"\0" * max(0, off - len(data))
        data[off:off + len(raw)] = raw
    return out + bytes(data)


def string_value(s):
    return struct.pack("<Q", len(s)) + s.encode()


class DamagedGguf(unittest.TestCase):
    """Each damage: exit 1, one line naming the problem, nothing written."""

    def refused(self, data, phrase):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "bad.gguf")
            with open(path, "wb") as f:
                f.write(data)
            out = os.path.join(tmp, "out.mlir")
            proc = qopt("import", path, "-o", out, check=False)
            self.assertEqual(proc.returncode, 1, proc.stderr)
            lines = proc.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, proc.stderr)
            self.assertIn(phrase, lines[0])
            self.assertEqual(os.listdir(tmp), ["bad.gguf"])

    def arch(self):
        return ("general.architecture", 8, string_value("llama"))

    def embd(self, t=0, off=0, ne=(32, 2)):
        raw = b"\0" * (ne[0] * ne[1] * 4 if t == 0 else ne[0] * ne[1] // 32 * 18)
        return ("token_embd.weight", ne, t, off, raw)

    def test_truncated_file(self):
        with tempfile.TemporaryDirectory() as tmp:
            cfg, w = llama.read_llama2c(os.path.join(MODEL, "stories260K.bin"))
            path = os.path.join(tmp, "m.gguf")
            gguf_export.export(cfg, w, path, "Q4_0", os.path.join(MODEL, "tok512.bin"))
            with open(path, "rb") as f:
                data = f.read()
        self.refused(data[:len(data) // 2], "truncated file")
        self.refused(data[:3000], "more than the file holds")

    def test_counts_and_lengths_that_lie(self):
        good = gguf_bytes([self.arch()], [self.embd()])
        lying_tensors = good[:8] + struct.pack("<Q", 1 << 40) + good[16:]
        self.refused(lying_tensors, "tensor count")
        lying_kv = good[:16] + struct.pack("<Q", 1 << 50) + good[24:]
        self.refused(lying_kv, "metadata count")
        lying_string = good[:24] + struct.pack("<Q", 1 << 62) + good[32:]
        self.refused(lying_string, "claims")

    def test_unknown_ggml_type(self):
        self.refused(gguf_bytes([self.arch()], [self.embd(t=99)]), "unknown ggml type 99")

    def test_array_length_that_would_overflow(self):
        huge = ("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, (1 << 64) - 1))
        self.refused(gguf_bytes([self.arch(), huge], [self.embd()]), "array elements")

    def test_misaligned_data(self):
        self.refused(gguf_bytes([self.arch()], [self.embd(off=4)]), "is not aligned")

    def test_tensor_past_the_end(self):
        data = gguf_bytes([self.arch()], [self.embd()])
        self.refused(data[:-8], "runs past the end")

    def test_rows_not_whole_blocks(self):
        self.refused(gguf_bytes([self.arch()], [self.embd(t=2, ne=(48, 2))]),
                     "are not whole Q4_0 blocks")

    def test_missing_hyperparameters_and_wrong_types(self):
        self.refused(gguf_bytes([self.arch()], [self.embd()]), "lacks llama.embedding_length")
        wrong = ("llama.embedding_length", 8, string_value("64"))
        self.refused(gguf_bytes([self.arch(), wrong], [self.embd()]),
                     "llama.embedding_length must be a non-negative integer")

    def test_unsupported_architecture_and_version(self):
        falcon = ("general.architecture", 8, string_value("falcon"))
        self.refused(gguf_bytes([falcon], [self.embd()]), "architecture 'falcon'")
        self.refused(gguf_bytes([self.arch()], [self.embd()], version=1), "GGUF version 1")


if __name__ == "__main__":
    unittest.main()
