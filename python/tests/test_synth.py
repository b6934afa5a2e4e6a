"""scripts/synth_model.py: the llama2.c and Hugging Face forms of one seed are
the same model (qopt imports both to the same logits), the planted outlier
channels are there, and the shapes are the real models'.

  QOPT=build/bin/qopt QOPT_SHARED=../shared /usr/bin/python3 python/tests/test_synth.py
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
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from qopt_ref import llama  # noqa: E402
from qopt_ref.tokenizer import Tokenizer  # noqa: E402
import synth_model  # noqa: E402

QOPT = os.environ.get("QOPT", "build/bin/qopt")
SHARED = os.environ.get("QOPT_SHARED", os.path.join(ROOT, "..", "shared"))
TOK = os.path.join(SHARED, "models", "stories260K", "tok512.bin")
SYNTH = os.path.join(ROOT, "scripts", "synth_model.py")


def synth(*args, shape="tiny"):
    subprocess.run([sys.executable, SYNTH, "--shape", shape, *args], check=True,
                   stderr=subprocess.DEVNULL)


def logits(model, out):
    subprocess.run([QOPT, "logits", model, "--tokenizer", TOK, "-p", "Once upon a time",
                    "-o", out], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return np.load(out)


def logits_of(model, prompt, out):
    subprocess.run([QOPT, "logits", model, "--tokenizer", TOK, "-p", prompt, "-o", out],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return np.load(out)


def run(*args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class Synth(unittest.TestCase):
    def test_grouped_query_attention_matches_executor(self):
        # head_dim 64 with 4 query heads per KV head, the shape the runtime's
        # block attention takes (prefill; QRT_BLOCK_ATTENTION=0: one query at
        # a time), with a KV cache of one head per layer: every kernel family
        # against the executor, token by token and whole.
        from qopt_runtime import Model
        with tempfile.TemporaryDirectory() as d:
            ckpt, mlir = os.path.join(d, "g.bin"), os.path.join(d, "g.mlir")
            synth("-o", ckpt, shape="tiny-gqa")
            run(QOPT, "compile", ckpt, "--tokenizer", TOK, "--recipe", "fp32", "-o", mlir)
            run(QOPT, "build", mlir, "-o", os.path.join(d, "g"), "--emit", "shared")
            prompt = "Once upon a time there was a"
            ref, step = os.path.join(d, "ref.npy"), os.path.join(d, "step.npy")
            run(QOPT, "logits", mlir, "-p", prompt, "-o", ref)
            run(QOPT, "logits", mlir, "-p", prompt, "--stepwise", "-o", step)
            ref, step = np.load(ref), np.load(step)
            for isa in ["avx512vnni", "avx2", "portable"]:
                for block in ["1", "0"]:
                    os.environ["QRT_ISA"], os.environ["QRT_BLOCK_ATTENTION"] = isa, block
                    try:
                        m = Model(os.path.join(d, "libg.so"), threads=2)
                    finally:
                        del os.environ["QRT_ISA"], os.environ["QRT_BLOCK_ATTENTION"]
                    with m, self.subTest(isa=isa, block=block):
                        tokens = m.encode(prompt)
                        got = np.concatenate([m.logits([t], i) for i, t in enumerate(tokens)])
                        self.assertLess(float(np.abs(got - step).max()), 1e-4)
                        self.assertLess(float(np.abs(m.logits(tokens) - ref).max()), 1e-4)

    def test_llama2c_and_hf_are_one_model(self):
        with tempfile.TemporaryDirectory() as d:
            bin_path, hf_dir = os.path.join(d, "m.bin"), os.path.join(d, "hf")
            synth("--seed", "3", "-o", bin_path)
            synth("--seed", "3", "--format", "hf", "-o", hf_dir)
            a = logits(bin_path, os.path.join(d, "a.npy"))
            b = logits(hf_dir, os.path.join(d, "b.npy"))
            self.assertEqual(a.shape, (5, 512))
            np.testing.assert_allclose(a, b, atol=1e-4)
            # another seed is another model
            synth("--seed", "4", "-o", bin_path)
            c = logits(bin_path, os.path.join(d, "c.npy"))
            self.assertGreater(float(np.abs(a - c).max()), 1e-2)
            # bf16 loads and stays near the f32 model
            synth("--seed", "3", "--format", "hf", "--dtype", "bf16", "-o", hf_dir + "16")
            e = logits(hf_dir + "16", os.path.join(d, "e.npy"))
            self.assertLess(float(np.abs(a - e).max()), 0.5)

    def test_llama3_rope_scaling_matches_reference(self):
        # Llama 3.1's rope_scaling against transformers' frequency math in
        # float64 numpy (qopt_ref.llama.inverse_frequencies): the executor,
        # and the compiled program whole and token by token.
        from qopt_runtime import Model
        prompt = ("Once upon a time there was a little girl named Lily who loved to play "
                  "outside in the sun with her dog and her friends")
        with tempfile.TemporaryDirectory() as d:
            hf_dir, ckpt = os.path.join(d, "hf"), os.path.join(d, "m.bin")
            synth("--seed", "6", "--format", "hf", "--arch", "llama3", "-o", hf_dir)
            synth("--seed", "6", "-o", ckpt)
            cfg, w = llama.read_llama2c(ckpt)
            with open(os.path.join(hf_dir, "config.json")) as f:
                hf_cfg = json.load(f)
            cfg.rope_theta, cfg.rope_scaling = hf_cfg["rope_theta"], hf_cfg["rope_scaling"]
            freq = llama.inverse_frequencies(cfg.head_dim, cfg.rope_theta, cfg.rope_scaling)
            plain = llama.inverse_frequencies(cfg.head_dim, cfg.rope_theta)
            ratio = freq / plain  # all three bands of the llama3 rule are present
            self.assertTrue(np.any(np.isclose(ratio, 1.0)) and np.any(np.isclose(ratio, 1 / 8)))
            self.assertTrue(np.any((ratio > 1 / 8 + 1e-6) & (ratio < 1 - 1e-6)))
            tokens = Tokenizer(TOK).encode(prompt)
            self.assertGreater(len(tokens), 30)
            got = logits_of(hf_dir, prompt, os.path.join(d, "a.npy"))
            want = llama.forward(cfg, w, tokens, interleaved=True)
            scale = float(np.abs(want).max())
            self.assertLess(float(np.abs(got - want).max()) / scale, 1e-4)
            cfg.rope_scaling = None  # the scaling changes these logits
            self.assertGreater(float(np.abs(llama.forward(cfg, w, tokens) - want).max()) / scale,
                               1e-3)
            run(QOPT, "build", hf_dir, "--tokenizer", TOK, "-o", os.path.join(d, "p"),
                "--emit", "shared")
            with Model(os.path.join(d, "libp.so"), threads=2) as m:
                self.assertEqual(list(m.encode(prompt)), tokens)
                whole = m.logits(tokens)
                steps = np.concatenate([m.logits([t], i) for i, t in enumerate(tokens)])
            self.assertLess(float(np.abs(whole - want).max()) / scale, 1e-4)
            self.assertLess(float(np.abs(steps - want).max()) / scale, 1e-4)

    def test_mistral_sliding_window_matches_reference(self):
        # Mistral: sliding_window 8 with a prompt of about twice that, so
        # most positions attend to a window; float64 numpy with Hugging
        # Face's window mask against the executor and the compiled program
        # (prefill, through the per-query kernels where the window cuts, and
        # token by token), which full attention would miss.
        # tiny-gqa's head_dim 64 reaches the block prefill kernels too.
        for shape in ("tiny", "tiny-gqa"):
            with self.subTest(shape=shape):
                self.check_sliding_window(shape)

    def check_sliding_window(self, shape):
        from qopt_runtime import Model
        prompt = "Once upon a time there was a little dog who liked to run in the park"
        with tempfile.TemporaryDirectory() as d:
            hf_dir, ckpt = os.path.join(d, "hf"), os.path.join(d, "m.bin")
            synth("--seed", "9", "--format", "hf", "--arch", "mistral", "-o", hf_dir, shape=shape)
            synth("--seed", "9", "-o", ckpt, shape=shape)
            cfg, w = llama.read_llama2c(ckpt)
            tokens = Tokenizer(TOK).encode(prompt)
            self.assertGreater(len(tokens), 14)
            want = llama.forward(cfg, w, tokens, sliding_window=8)
            scale = float(np.abs(want).max())
            self.assertGreater(float(np.abs(llama.forward(cfg, w, tokens) - want).max()) / scale,
                               1e-3)
            got = logits_of(hf_dir, prompt, os.path.join(d, "a.npy"))
            self.assertLess(float(np.abs(got - want).max()) / scale, 1e-4)
            run(QOPT, "build", hf_dir, "--tokenizer", TOK, "-o", os.path.join(d, "p"),
                "--emit", "shared")
            with Model(os.path.join(d, "libp.so"), threads=2) as m:
                whole = m.logits(tokens)
                steps = np.concatenate([m.logits([t], i) for i, t in enumerate(tokens)])
                # a prefill that starts inside the window and runs past it
                short = m.logits(tokens[:5], 0)  # inside the window: block kernels
                split = m.logits(tokens[5:], 5)
            self.assertLess(float(np.abs(whole - want).max()) / scale, 1e-4)
            self.assertLess(float(np.abs(steps - want).max()) / scale, 1e-4)
            self.assertLess(float(np.abs(short - want[:5]).max()) / scale, 1e-4)
            self.assertLess(float(np.abs(split - want[5:]).max()) / scale, 1e-4)

    def test_qwen2_biases_match_reference(self):
        # Qwen2: q/k/v biases (permuted with their rows for rotate-half in
        # the HF form), rope_theta 1e6, rms_norm_eps 1e-6, and a
        # sliding_window the config turns off: float64 numpy against the
        # executor and the compiled program, whole and token by token.
        from qopt_runtime import Model
        prompt = "Once upon a time there was a little dog who liked to run in the park"
        with tempfile.TemporaryDirectory() as d:
            hf_dir, ckpt = os.path.join(d, "hf"), os.path.join(d, "m.bin")
            synth("--seed", "8", "--format", "hf", "--arch", "qwen2", "-o", hf_dir)
            synth("--seed", "8", "-o", ckpt)
            cfg, w = llama.read_llama2c(ckpt)
            w.update(synth_model.attention_biases(8, cfg))
            cfg.rope_theta, cfg.norm_eps = 1e6, 1e-6
            tokens = Tokenizer(TOK).encode(prompt)
            want = llama.forward(cfg, w, tokens, interleaved=True)
            scale = float(np.abs(want).max())
            got = logits_of(hf_dir, prompt, os.path.join(d, "a.npy"))
            self.assertLess(float(np.abs(got - want).max()) / scale, 1e-4)
            no_bias = {k: v for k, v in w.items() if k not in ("bq", "bk", "bv")}
            self.assertGreater(
                float(np.abs(llama.forward(cfg, no_bias, tokens) - want).max()) / scale, 1e-3)
            run(QOPT, "build", hf_dir, "--tokenizer", TOK, "-o", os.path.join(d, "p"),
                "--emit", "shared")
            with Model(os.path.join(d, "libp.so"), threads=2) as m:
                whole = m.logits(tokens)
                steps = np.concatenate([m.logits([t], i) for i, t in enumerate(tokens)])
            self.assertLess(float(np.abs(whole - want).max()) / scale, 1e-4)
            self.assertLess(float(np.abs(steps - want).max()) / scale, 1e-4)

    def test_explicit_head_dim_matches_reference(self):
        # config.json's head_dim wider than hidden_size / heads (as
        # Mistral-Nemo's): q_proj and the attention are heads * head_dim
        # wide, o_proj reads that width. tiny + qwen2: head_dim 32 (q 128
        # wide on dim 64) with biases; tiny-gqa: head_dim 128 (q 512 on dim
        # 256), the block prefill kernels' shape. Float64 numpy against the
        # executor and the compiled program, whole and token by token.
        for shape, arch, head_dim in (("tiny", "qwen2", 32), ("tiny-gqa", "llama", 128)):
            with self.subTest(shape=shape):
                self.check_explicit_head_dim(shape, arch, head_dim)

    def check_explicit_head_dim(self, shape, arch, head_dim):
        from qopt_runtime import Model
        prompt = "Once upon a time there was a little dog who liked to run in the park"
        with tempfile.TemporaryDirectory() as d:
            hf_dir = os.path.join(d, "hf")
            argv = ["--shape", shape, "--seed", "5", "--format", "hf", "--arch", arch,
                    "--head-dim", str(head_dim), "-o", hf_dir]
            subprocess.run([sys.executable, SYNTH, *argv], check=True, stderr=subprocess.DEVNULL)
            with open(os.path.join(hf_dir, "config.json")) as f:
                self.assertEqual(json.load(f)["head_dim"], head_dim)
            cfg, w = synth_model.reference_model(argv)
            self.assertEqual(w["wq"].shape[1], cfg.n_heads * head_dim)
            self.assertNotEqual(cfg.n_heads * head_dim, cfg.dim)
            tokens = Tokenizer(TOK).encode(prompt)
            want = llama.forward(cfg, w, tokens, interleaved=True)
            scale = float(np.abs(want).max())
            got = logits_of(hf_dir, prompt, os.path.join(d, "a.npy"))
            self.assertLess(float(np.abs(got - want).max()) / scale, 1e-4)
            run(QOPT, "build", hf_dir, "--tokenizer", TOK, "-o", os.path.join(d, "p"),
                "--emit", "shared")
            with Model(os.path.join(d, "libp.so"), threads=2) as m:
                whole = m.logits(tokens)
                steps = np.concatenate([m.logits([t], i) for i, t in enumerate(tokens)])
            self.assertLess(float(np.abs(whole - want).max()) / scale, 1e-4)
            self.assertLess(float(np.abs(steps - want).max()) / scale, 1e-4)

    def test_outlier_channels_and_deterministic_bytes(self):
        with tempfile.TemporaryDirectory() as d:
            p1, p2 = os.path.join(d, "1.bin"), os.path.join(d, "2.bin")
            synth("-o", p1)
            synth("-o", p2)
            with open(p1, "rb") as f, open(p2, "rb") as g:
                self.assertEqual(f.read(), g.read())
            cfg, w = llama.read_llama2c(p1)
            for norm in list(w["rms_att"]) + list(w["rms_ffn"]):
                ratio = np.abs(norm) / np.median(np.abs(norm))
                self.assertGreater(float(ratio.max()), 10.0)  # planted x20 channels
                self.assertLessEqual(int((ratio > 10).sum()), max(1, cfg.dim // 100))

    def test_untied_classifier_and_decode_bytes(self):
        # An untied model has its own classifier; a decode step reads one
        # row of its embedding table, so the program's decode bytes leave
        # the rest of the table out (a tied table is read whole).
        from qopt_runtime import Model
        with tempfile.TemporaryDirectory() as d:
            counts = {}
            for tie in ("tied", "untied"):
                path = os.path.join(d, tie + ".bin")
                synth("--seed", "5", "-o", path, *(["--untied"] if tie == "untied" else []))
                cfg, w = llama.read_llama2c(path)
                self.assertEqual(cfg.tied, tie == "tied")
                subprocess.run([QOPT, "build", path, "--tokenizer", TOK, "-o",
                                os.path.join(d, tie), "--emit", "shared"], check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                with Model(os.path.join(d, "lib" + tie + ".so"), threads=1) as m:
                    counts[tie] = (m.weight_bytes, m.decode_bytes)
            dim, vocab = synth_model.SHAPES["tiny"][0], synth_model.SHAPES["tiny"][5]
            table = vocab * dim * 4
            self.assertEqual(counts["tied"][0], counts["tied"][1])
            self.assertEqual(counts["untied"][0], counts["tied"][0] + table)
            self.assertEqual(counts["untied"][1], counts["tied"][1] + dim * 4)

    def test_shapes_are_the_real_models(self):
        # dim, hidden, layers, heads, kv_heads, vocab
        self.assertEqual(synth_model.SHAPES["stories110M"][:6], (768, 2048, 12, 12, 12, 32000))
        self.assertEqual(synth_model.SHAPES["tinyllama-1.1B"][:6],
                         (2048, 5632, 22, 32, 4, 32000))
        self.assertEqual(synth_model.SHAPES["stories15M"][:6], (288, 768, 6, 6, 6, 32000))


if __name__ == "__main__":
    unittest.main()
