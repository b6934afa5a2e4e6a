"""Compiled programs (qopt build --emit shared, loaded through qopt_runtime)
against the reference executor (qopt logits), for every weight scheme and
every kernel family of this CPU.

  QOPT=build/bin/qopt /usr/bin/python3 python/tests/test_compiled.py

Tolerance: the kernels decode weights exactly as the executor does; only
the order of float additions differs (and the W8A8 path sums int8 products
in int32 before one rescale), so logits agree to 1e-4 absolute (measured
about 1e-5 on logits of magnitude ~20; the portable family is often exact).
With quantized activations (W8A8), a 1e-6 difference upstream can move a
value across a rounding boundary and flip one int8 activation code, which
then shows in that position's logits and, through the KV cache, in later
ones (seen: one flip at position 3 of a decode run, |diff| <= 0.37 after):
there the check is |diff| < 0.5 everywhere and the same greedy token at
every position.

Those programs are built with --act-int8=false and fused (qnt-fuse, the
default). Each is also built with --fuse=false: fusion must not change a
single bit of the logits, on any kernel family.

The programs are built with --act-int8=false. The default build
(--act-int8) quantizes the activations of integer-weight linears to int8
blocks at run time, which the executor does not model: there the check is
the distribution, KL(reference || compiled) < 5e-3 nats per position
(measured 8e-4 for w4 g32) with |diff| < 0.5. Kernel families do not agree
with each other to 1e-4 there either: they combine the exact integer block
sums in different float orders, and a 1e-7 difference can flip a later
activation code, as with W8A8. The kernels themselves are checked against
the definition in qrt-kernel-tests.
"""
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from qopt_runtime import Model, QrtError  # noqa: E402
from qopt_ref import tokenizer  # noqa: E402

QOPT = os.environ.get("QOPT", "build/bin/qopt")
SHARED = os.environ.get("QOPT_SHARED", os.path.join(os.path.dirname(__file__), "..", "..",
                                                    "..", "shared"))
MODEL = os.path.join(SHARED, "models", "stories260K", "stories260K.bin")
SAMPLE = os.path.join(SHARED, "data", "tinystories", "sample.txt")
PROMPT = "Once upon a time, there was a little dog named Max"
TOL = 1e-4

SCHEMES = {
    "fp32": ["--recipe", "fp32"],
    "w8_per_channel": ["--recipe", "rtn", "--bits", "8", "--group-size", "0"],
    "w4_g32": ["--recipe", "rtn", "--bits", "4"],
    "w4_g128_asym": ["--recipe", "rtn", "--bits", "4", "--group-size", "128",
                     "--symmetric=false"],
    "w3_g32": ["--recipe", "rtn", "--bits", "3"],
    "nf4_dq": ["--recipe", "nf4"],
    "w8a8_dynamic": ["--recipe", "w8a8", "--act-mode", "dynamic"],
    "w8a8_static": ["--recipe", "w8a8"],
    "llm_int8": ["--recipe", "llm-int8"],
    # q int4 g64 beside k/v int5 g64: fused linears whose inputs cannot be
    # shared, so the fused calls fall back to one call per weight
    "mixed": ["--recipe", "mixed", "--target-bpw", "5"],
    # NF4 (f32 activations) beside int4/int8 (int8 activations) in one q/k/v
    # group: the fused call must prepare the input per weight
    "mixed_nf4": ["--pipeline", "qnt-mixed-precision{target-bpw=4.6 "
                  "candidates=\"nf4:g64:sym,int4:g32:sym,int8:g0:sym\"},qnt-quantize-weights"],
    # keys and values kept in half precision in the KV cache
    "fp32_kv16": ["--recipe", "fp32", "--kv-cache", "f16"],
    # int8 codes with a scale per position and KV head
    "fp32_kv8": ["--recipe", "fp32", "--kv-cache", "i8"],
    # the classifier in int8 too (a quantized lm_head beside a float embedding)
    "w4_g32_head8": ["--recipe", "rtn", "--bits", "4", "--lm-head-bits", "8"],
}
FAMILIES = ["avx512vnni", "avx2", "portable"]
QUANTIZED_ACTIVATIONS = {"w8a8_dynamic", "w8a8_static"}
# built a second time with the default int8 activations, as NAME_q8
INT8_ACTIVATION_SCHEMES = ["w8_per_channel", "w4_g32", "w4_g128_asym", "w3_g32", "mixed",
                           "mixed_nf4", "w4_g32_head8"]
KL_TOL = 5e-3
# An f16 KV cache rounds each stored key and value to half precision, so a
# 1e-7 difference in a kernel family's K can land on the other side of an
# f16 rounding boundary (steps of 1e-3 relative): measured 2.2e-3 on logits
# of ~20 for AVX-512 against the executor, whose portable-order twin matches.
# An int8 cache's codes step by max|x| / 127 per row: the same happens, more
# rarely (measured 9e-6 on stories260K, no code flipped).
HALF_KV = {"fp32_kv16", "fp32_kv8"}
HALF_KV_TOL = 2e-2


def kl_per_position(ref, got):
    def log_softmax(z):
        z = z - z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    lp, lq = log_softmax(ref.astype(np.float64)), log_softmax(got.astype(np.float64))
    return (np.exp(lp) * (lp - lq)).sum(axis=1)


def run(args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def load_npy(path):
    return np.load(path)


class CompiledAgainstReference(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        calib = os.path.join(d, "calib.txt")
        with open(SAMPLE) as f, open(calib, "w") as g:
            g.write(f.read()[:30000])
        cls.built = {}
        for name, opts in SCHEMES.items():
            mlir = os.path.join(d, name + ".mlir")
            run([QOPT, "compile", MODEL, "-o", mlir, *opts, "--calib", calib,
                 "--calib-samples", "8", "--calib-seqlen", "64"])
            run([QOPT, "build", mlir, "-o", os.path.join(d, name), "--emit", "shared",
                 "--act-int8=false"])
            ref = os.path.join(d, name + ".npy")
            run([QOPT, "logits", mlir, "-p", PROMPT, "-o", ref])
            step = os.path.join(d, name + ".step.npy")
            run([QOPT, "logits", mlir, "-p", PROMPT, "--stepwise", "-o", step])
            cls.built[name] = (os.path.join(d, "lib" + name + ".so"), load_npy(ref),
                               load_npy(step))
            if name in INT8_ACTIVATION_SCHEMES:
                run([QOPT, "build", mlir, "-o", os.path.join(d, name + "_q8"), "--emit",
                     "shared"])
                cls.built[name + "_q8"] = (os.path.join(d, "lib" + name + "_q8.so"),
                                           *cls.built[name][1:])
        # the same programs without the fusion passes
        cls.unfused = {}
        for name in cls.built:
            base = name[:-3] if name.endswith("_q8") else name
            mlir = os.path.join(d, base + ".mlir")
            out = os.path.join(d, name + "_unfused")
            run([QOPT, "build", mlir, "-o", out, "--emit", "shared", "--fuse=false",
                 "--act-int8=" + ("true" if name.endswith("_q8") else "false")])
            cls.unfused[name] = os.path.join(d, "lib" + name + "_unfused.so")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def open(self, name, family, path=None, sequences=1):
        os.environ["QRT_ISA"] = family
        try:
            return Model(path or self.built[name][0], threads=2, sequences=sequences)
        finally:
            del os.environ["QRT_ISA"]

    def check(self, name, got, ref):
        self.assertEqual(got.shape, ref.shape)
        per_position = np.abs(got - ref).max(axis=1)
        if name.endswith("_q8"):
            self.assertLess(float(kl_per_position(ref, got).max()), KL_TOL)
            self.assertLess(float(per_position.max()), 0.5)
            return
        if name in HALF_KV:
            self.assertLess(float(per_position.max()), HALF_KV_TOL)
            np.testing.assert_array_equal(got.argmax(axis=1), ref.argmax(axis=1))
            return
        if name not in QUANTIZED_ACTIVATIONS:
            self.assertLess(float(per_position.max()), TOL)
            return
        self.assertLess(float(per_position.max()), 0.5)
        np.testing.assert_array_equal(got.argmax(axis=1), ref.argmax(axis=1))

    def test_encode_matches_llama2c_tokenizer(self):
        # the runtime's merge loop against llama2.c's, transcribed literally
        # (qopt_ref.tokenizer): every document of sample.txt, the whole file
        # at once (a long input: thousands of merges), and multi-byte text
        # that falls back to byte tokens, and "oooo", whose tie between equal
        # pairs must go to the leftmost
        ref = tokenizer.Tokenizer(os.path.join(SHARED, "models", "stories260K", "tok512.bin"))
        with open(SAMPLE) as f:
            text = f.read()
        cases = [d for d in text.split("\n\n") if d.strip()][:20] + [
            text, "", " ", "a", "東京 is a city", "naïve café — über", "  two  spaces\n",
            "oooo"]  # equal-scoring overlapping pairs: the leftmost merges first
        m = self.open("fp32", "portable")
        for case in cases:
            self.assertEqual(list(m.encode(case)), ref.encode(case), repr(case[:40]))

    def test_prefill_logits_match_reference(self):
        for name in self.built:
            for family in FAMILIES:
                with self.subTest(scheme=name, family=family), self.open(name, family) as m:
                    self.check(name, m.logits(m.encode(PROMPT)), self.built[name][1])

    def test_decode_logits_match_reference(self):
        # One token per call: the GEMV kernels (prefill uses decoded rows).
        for name in self.built:
            for family in FAMILIES:
                with self.subTest(scheme=name, family=family), self.open(name, family) as m:
                    tokens = m.encode(PROMPT)
                    got = np.concatenate([m.logits([t], i) for i, t in enumerate(tokens)])
                    self.check(name, got, self.built[name][2])

    def test_last_token_logits_equal_the_full_rows(self):
        # qrt_forward_last (generation) runs the classifier for one row, also
        # across chunk boundaries (80 tokens > the 64-token chunk).
        tokens = list(range(1, 81))
        for name in ("fp32", "w4_g32_q8", "w8a8_dynamic"):
            with self.subTest(scheme=name), self.open(name, FAMILIES[0]) as m:
                full = m.logits(tokens)
                last = m.logits(tokens, last_only=True)
                np.testing.assert_array_equal(last[0], full[-1])

    def test_batched_decode_equals_one_sequence_at_a_time(self):
        # qrt_decode_batch (a server's step): each row's logits are those of
        # a one-token step of its sequence alone, bit for bit, in every
        # scheme and kernel family; the sequences' caches do not mix.
        prompts = [PROMPT, "The cat", "One day, a girl named Lily went to the park and saw",
                   "Tom"]
        for name in self.built:
            for family in FAMILIES:
                with self.subTest(scheme=name, family=family):
                    alone = []
                    with self.open(name, family) as m:
                        for p in prompts:
                            tokens = m.encode(p)
                            rows = [m.logits(tokens, last_only=True)[0]]
                            for step in range(6):  # greedy, one token per call
                                nxt = int(rows[-1].argmax())
                                rows.append(m.logits([nxt], len(tokens) + step)[0])
                            alone.append(np.stack(rows))
                    with self.open(name, family, sequences=4) as m:
                        lens = []
                        got = [[] for _ in prompts]
                        for i, p in enumerate(prompts):
                            tokens = m.encode(p)
                            lens.append(len(tokens))
                            got[i].append(m.forward_seq(i, tokens, 0, last_only=True)[0])
                        for step in range(6):
                            order = [3, 0, 2, 1]  # rows need not follow the sequences
                            nxt = [int(got[i][-1].argmax()) for i in order]
                            out = m.decode_batch(nxt, order, [lens[i] + step for i in order])
                            for r, i in enumerate(order):
                                got[i].append(out[r])
                    for i in range(len(prompts)):
                        np.testing.assert_array_equal(np.stack(got[i]), alone[i])

    def test_batch_errors(self):
        with self.open("fp32", "portable", sequences=2) as m:
            m.forward_seq(0, [1, 2], 0)
            with self.assertRaisesRegex(QrtError, "both of sequence 0"):
                m.decode_batch([3, 4], [0, 0], [2, 3])
            with self.assertRaisesRegex(QrtError, "sequence 2 is outside the model's 2"):
                m.decode_batch([3], [2], [2])
            with self.assertRaisesRegex(QrtError, "outside \\[1, 2\\]"):
                m.decode_batch([3, 4, 5], [0, 1, 0], [2, 0, 2])
            with self.assertRaisesRegex(QrtError, "position 512 is outside the context"):
                m.decode_batch([3], [1], [512])
            with self.assertRaisesRegex(QrtError, "sequence 5 is outside"):
                m.forward_seq(5, [1], 0)
        with self.assertRaisesRegex(QrtError, "number of sequences must be in"):
            Model(self.built["fp32"][0], sequences=0)
        with self.assertRaisesRegex(QrtError, "positions is outside"):
            Model(self.built["fp32"][0], positions=100000)
        with Model(self.built["fp32"][0], positions=64) as m:
            self.assertEqual(m.max_seq_len, 64)
            with self.assertRaisesRegex(QrtError, "outside the context of 64"):
                m.logits([1, 2], 63)

    def test_fusion_changes_no_bit(self):
        for name in self.built:
            for family in FAMILIES:
                with self.subTest(scheme=name, family=family):
                    results = []
                    for path in (self.built[name][0], self.unfused[name]):
                        with self.open(name, family, path) as m:
                            tokens = m.encode(PROMPT)
                            prefill = m.logits(tokens)
                            decode = np.concatenate([m.logits([t], i)
                                                     for i, t in enumerate(tokens)])
                            results.append((prefill, decode))
                    np.testing.assert_array_equal(results[0][0], results[1][0])
                    np.testing.assert_array_equal(results[0][1], results[1][1])

    def test_int8_activations_are_in_effect(self):
        # The _q8 programs are not the f32-activation programs under another
        # name: their logits differ by more than float rounding.
        for name in INT8_ACTIVATION_SCHEMES:
            with self.subTest(scheme=name):
                with self.open(name + "_q8", FAMILIES[0]) as m:
                    fast = m.logits(m.encode(PROMPT))
                with self.open(name, FAMILIES[0]) as m:
                    exact = m.logits(m.encode(PROMPT))
                self.assertGreater(float(np.abs(exact - fast).max()), TOL)

    def test_greedy_text_and_perplexity(self):
        with self.open("fp32", "avx2") as m:
            text = m.generate("", steps=200, temperature=0)
            with open(os.path.join(SHARED, "models", "stories260K",
                                   "expected_greedy_200.txt")) as f:
                self.assertEqual(text, f.read())
            self.assertAlmostEqual(m.perplexity(SAMPLE), 5.6584, places=4)

    def test_errors(self):
        with self.open("fp32", "portable") as m:
            with self.assertRaisesRegex(QrtError, "outside the context of 512"):
                m.logits([1, 2], 511)
            with self.assertRaisesRegex(QrtError, "outside the vocabulary"):
                m.logits([600])
        with self.assertRaisesRegex(QrtError, "cannot open weights file"):
            Model(self.built["fp32"][0], weights="/nonexistent.qrtw")


if __name__ == "__main__":
    unittest.main()
