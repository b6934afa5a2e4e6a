"""qopt export --format hf-gptq against a numpy transcription of AutoGPTQ.

AutoGPTQ's v1 packing (auto_gptq/nn_modules/qlinear/qlinear_cuda_old.py:
pack() and the dequantization of its torch forward), transcribed in
python/qopt_ref/packed_quant.py, is applied to the files qopt writes:
unpacking them and running the numpy reference forward (rotate-half rope, as transformers runs Llama) gives qopt's
logits of the quantized IR, and packing the unpacked codes and zero points
again reproduces qopt's qweight and qzeros bit for bit.

  QOPT=build/bin/qopt QOPT_SHARED=../shared /usr/bin/python3 python/tests/test_hf_gptq_export.py
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "python"))
from qopt_ref import llama  # noqa: E402
from qopt_ref.packed_quant import (autogptq_pack, autogptq_unpack,  # noqa: E402
                                   read_safetensors)

QOPT = os.environ.get("QOPT", os.path.join(ROOT, "build", "bin", "qopt"))
SHARED = os.environ.get("QOPT_SHARED", os.path.join(ROOT, "..", "shared"))
TOK = os.path.join(SHARED, "models", "stories260K", "tok512.bin")
CALIB = os.path.join(SHARED, "data", "tinystories", "sample.txt")
TOKENS = [1, 403, 407, 261, 378, 429, 267, 400, 260, 288]


def qopt(*args, check=True):
    proc = subprocess.run([QOPT, *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"qopt {' '.join(args)} failed: {proc.stderr}")
    return proc


def hf_weights(cfg, t, bits):
    def linear(prefix):
        w, _, _ = autogptq_unpack(t[prefix + ".qweight"], t[prefix + ".qzeros"],
                                  t[prefix + ".scales"], t[prefix + ".g_idx"], bits)
        return w
    w = {"tok": t["model.embed_tokens.weight"], "rms_final": t["model.norm.weight"]}
    w["cls"] = t.get("lm_head.weight", w["tok"])
    names = {"rms_att": "input_layernorm.weight", "rms_ffn": "post_attention_layernorm.weight"}
    for key, leaf in names.items():
        w[key] = np.stack([t[f"model.layers.{l}.{leaf}"] for l in range(cfg.n_layers)])
    for key, leaf in (("wq", "self_attn.q_proj"), ("wk", "self_attn.k_proj"),
                      ("wv", "self_attn.v_proj"), ("wo", "self_attn.o_proj"),
                      ("w1", "mlp.gate_proj"), ("w2", "mlp.down_proj"), ("w3", "mlp.up_proj")):
        w[key] = np.stack([linear(f"model.layers.{l}.{leaf}") for l in range(cfg.n_layers)])
    return w


class HfGptqExport(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        cls.ckpt = os.path.join(d, "tiny.bin")
        subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "scripts", "synth_model.py"),
                        "--shape", "tiny", "-o", cls.ckpt], check=True, capture_output=True)
        cls.base = os.path.join(d, "base.mlir")
        qopt("import", cls.ckpt, "--tokenizer", TOK, "-o", cls.base)
        cls.cfg, _ = llama.read_llama2c(cls.ckpt)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def export(self, name, *compile_args):
        mlir = os.path.join(self.tmp.name, name + ".mlir")
        qopt("compile", self.base, "-o", mlir, *compile_args)
        out = os.path.join(self.tmp.name, name)
        qopt("export", mlir, "--format", "hf-gptq", "-o", out)
        return mlir, out

    def check(self, mlir, out, bits):
        with open(os.path.join(out, "config.json")) as f:
            config = json.load(f)
        qc = config["quantization_config"]
        self.assertEqual((qc["quant_method"], qc["bits"], qc["desc_act"]), ("gptq", bits, False))
        t = read_safetensors(os.path.join(out, "model.safetensors"))
        with tempfile.TemporaryDirectory() as tmp:
            npy = os.path.join(tmp, "l.npy")
            qopt("logits", mlir, "--tokens", ",".join(map(str, TOKENS)), "-o", npy)
            ours = np.load(npy)
        ref = llama.forward(self.cfg, hf_weights(self.cfg, t, bits), TOKENS, interleaved=False)
        err = np.max(np.abs(ours - ref)) / np.max(np.abs(ref))
        self.assertLess(err, 1e-4)
        for prefix in ("model.layers.0.self_attn.q_proj", "model.layers.1.mlp.down_proj"):
            _, intweight, zeros = autogptq_unpack(t[prefix + ".qweight"], t[prefix + ".qzeros"],
                                                  t[prefix + ".scales"], t[prefix + ".g_idx"],
                                                  bits)
            qweight, qzeros = autogptq_pack(intweight, zeros, bits)
            np.testing.assert_array_equal(qweight, t[prefix + ".qweight"])
            np.testing.assert_array_equal(qzeros, t[prefix + ".qzeros"])
        return qc

    def test_gptq_w4_g32_symmetric(self):
        mlir, out = self.export("g32", "--recipe", "gptq", "--bits", "4", "--group-size", "32",
                                "--calib", CALIB, "--calib-samples", "8", "--calib-seqlen", "64")
        qc = self.check(mlir, out, 4)
        self.assertEqual((qc["group_size"], qc["sym"]), (32, True))

    def test_asymmetric_and_per_channel(self):
        mlir, out = self.export("asym", "--recipe", "rtn", "--bits", "4", "--group-size", "0",
                                "--symmetric=false")
        qc = self.check(mlir, out, 4)
        self.assertEqual((qc["group_size"], qc["sym"]), (-1, False))

    def test_w8(self):
        mlir, out = self.export("w8", "--recipe", "rtn", "--bits", "8", "--group-size", "64")
        self.check(mlir, out, 8)

    def test_refusals_leave_nothing(self):
        # stories260K's hidden 172 packs into no 32-bit word; a float model
        # has nothing to pack; an existing directory is not overwritten.
        s260 = os.path.join(self.tmp.name, "s260.mlir")
        qopt("compile", os.path.join(SHARED, "models", "stories260K", "stories260K.bin"),
             "--tokenizer", TOK, "-o", s260, "--recipe", "rtn", "--bits", "4")
        for model, phrase in ((s260, "172 output channels do not pack into 32-bit words"),
                              (self.base, "not quantized")):
            out = os.path.join(self.tmp.name, "refused")
            proc = qopt("export", model, "--format", "hf-gptq", "-o", out, check=False)
            self.assertEqual(proc.returncode, 1)
            self.assertEqual(len(proc.stderr.strip().splitlines()), 1, proc.stderr)
            self.assertIn(phrase, proc.stderr)
            self.assertFalse(os.path.exists(out))
            self.assertFalse([f for f in os.listdir(self.tmp.name) if ".tmp-" in f])
        taken = os.path.join(self.tmp.name, "taken")
        os.makedirs(taken)
        proc = qopt("export", self.base, "--format", "hf-gptq", "-o", taken, check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("already exists", proc.stderr)
        self.assertEqual(os.listdir(taken), [])


if __name__ == "__main__":
    unittest.main()
