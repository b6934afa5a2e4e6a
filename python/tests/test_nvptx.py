"""The NVPTX target's programs (qopt build --target=nvptx) on a machine
without a GPU.

The host side is what runs on the CPU anyway: the same generated code as
the CPU target, linked with the CUDA backend (runtime/cuda), which loads the
driver at run time, uploads the weights, and launches the kernels of the
program's PTX. Here it runs against a stand-in driver
(test/cuda/mock_driver.c, QRT_CUDA_DRIVER) that emulates each kernel over
its launch grid on host memory at biased addresses, and checks that every
launch passes the parameters its PTX entry declares. So this checks, end to
end on stories260K: kernel selection per weight layout, argument packing,
launch shapes, the arena and KV cache on the device, logits copied back,
and the chunk loop. The kernels' PTX itself is checked by ptxas (lit:
tools/nvptx.test); its numbers need a real GPU (see the README).

Tolerances: the emulated kernels sum in the warp's lane order, not the
executor's, so float schemes agree to 1e-4 (as the CPU kernels); W8A8
quantizes activations per token, so there the greedy choices must agree.
"""
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from qopt_ref import qrtw  # noqa: E402
from qopt_runtime import Model, QrtError  # noqa: E402

QOPT = os.environ.get("QOPT", "build/bin/qopt")
MOCK = os.environ.get("QRT_MOCK_CUDA", "build/lib/libqrt_mock_cuda.so")
SHARED = os.environ.get("QOPT_SHARED", os.path.join(os.path.dirname(__file__), "..", "..",
                                                    "..", "shared"))
MODEL = os.path.join(SHARED, "models", "stories260K", "stories260K.bin")
EXPECTED = os.path.join(SHARED, "models", "stories260K", "expected_greedy_200.txt")
SAMPLE = os.path.join(SHARED, "data", "tinystories", "sample.txt")
PROMPT = "Once upon a time, there was a little dog named Max"
TOL = 1e-4

SCHEMES = {
    "fp32": ["--recipe", "fp32"],
    "w8": ["--recipe", "rtn", "--bits", "8", "--group-size", "0"],
    "w4_g32": ["--recipe", "rtn", "--bits", "4"],
    "w4_g128_asym": ["--recipe", "rtn", "--bits", "4", "--group-size", "128",
                     "--symmetric=false"],
    "w3_g32": ["--recipe", "rtn", "--bits", "3"],
    "w8a8_dynamic": ["--recipe", "w8a8", "--act-mode", "dynamic"],
    "w4_g32_head8": ["--recipe", "rtn", "--bits", "4", "--lm-head-bits", "8"],
}
QUANTIZED_ACTIVATIONS = {"w8a8_dynamic"}


def run(args, **kw):
    return subprocess.run(args, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, **kw)


class NvptxProgramsOnTheMockDriver(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        cls.dir = d
        calib = os.path.join(d, "calib.txt")
        with open(SAMPLE) as f, open(calib, "w") as g:
            g.write(f.read()[:30000])
        cls.calib = calib
        cls.built = {}
        for name, opts in SCHEMES.items():
            mlir = os.path.join(d, name + ".mlir")
            run([QOPT, "compile", MODEL, "-o", mlir, *opts, "--calib", calib,
                 "--calib-samples", "8", "--calib-seqlen", "64"])
            run([QOPT, "build", mlir, "-o", os.path.join(d, name), "--emit", "shared",
                 "--target=nvptx"])
            ref = os.path.join(d, name + ".npy")
            run([QOPT, "logits", mlir, "-p", PROMPT, "-o", ref])
            step = os.path.join(d, name + ".step.npy")
            run([QOPT, "logits", mlir, "-p", PROMPT, "--stepwise", "-o", step])
            cls.built[name] = (os.path.join(d, "lib" + name + ".so"), np.load(ref),
                               np.load(step))
        os.environ["QRT_CUDA_DRIVER"] = os.path.abspath(MOCK)

    @classmethod
    def tearDownClass(cls):
        os.environ.pop("QRT_CUDA_DRIVER", None)
        cls.tmp.cleanup()

    def check(self, name, got, ref):
        self.assertEqual(got.shape, ref.shape)
        diff = float(np.abs(got - ref).max())
        if name in QUANTIZED_ACTIVATIONS:
            self.assertLess(diff, 0.5, name)
            np.testing.assert_array_equal(got.argmax(axis=1), ref.argmax(axis=1))
        else:
            self.assertLess(diff, TOL, name)

    def test_runs_on_the_cuda_backend(self):
        with Model(self.built["fp32"][0]) as m:
            self.assertIn("cuda sm_80 (qopt mock device", m.isa)

    def test_prefill_logits_match_reference(self):
        for name, (lib, ref, _) in self.built.items():
            with self.subTest(name=name), Model(lib) as m:
                self.check(name, m.logits(m.encode(PROMPT)), ref)

    def test_decode_logits_match_reference(self):
        for name, (lib, _, step) in self.built.items():
            with self.subTest(name=name), Model(lib) as m:
                tokens = m.encode(PROMPT)
                got = np.concatenate([m.logits([t], i) for i, t in enumerate(tokens)])
                self.check(name, got, step)

    def test_last_token_logits_equal_the_full_rows(self):
        with Model(self.built["w4_g32"][0]) as m:
            tokens = m.encode(PROMPT)
            full = m.logits(tokens)
            np.testing.assert_array_equal(m.logits(tokens, last_only=True)[0], full[-1])

    def test_greedy_text_matches_the_cpu_program(self):
        mlir = os.path.join(self.dir, "fp32.mlir")
        gpu, cpu = os.path.join(self.dir, "fp32_gpu"), os.path.join(self.dir, "fp32_cpu")
        run([QOPT, "build", mlir, "-o", gpu, "--target=nvptx"])
        run([QOPT, "build", mlir, "-o", cpu, "--act-int8=false"])
        env = dict(os.environ, QRT_CUDA_DRIVER=os.path.abspath(MOCK))
        got = run([gpu, "-n", "200", "-t", "0"], env=env).stdout
        want = run([cpu, "-n", "200", "-t", "0"]).stdout
        self.assertEqual(got, want)
        with open(EXPECTED) as f:
            self.assertEqual(got.strip(), f.read().strip())

    def test_prefill_takes_the_tensor_core_gemms(self):
        # Prompts of QRT_GEMM_MIN_TOKENS (8) tokens or more run quantized
        # linears as the mma.sync GEMMs; decode steps and the f32 classifier
        # stay on the GEMVs; QRT_CUDA_GEMM_MIN=0 turns the GEMMs off.
        cases = {"w4_g32": "qnt_gemm_f16", "w3_g32": "qnt_gemm_f16",
                 "w8a8_dynamic": "qnt_gemm_w8a8"}
        for name, gemm in cases.items():
            with self.subTest(name=name):
                exe = os.path.join(self.dir, name + "_exe")
                run([QOPT, "build", os.path.join(self.dir, name + ".mlir"), "-o", exe,
                     "--target=nvptx"])
                env = dict(os.environ, QRT_MOCK_CUDA_TALLY="1")
                outs = {}
                for limit in ("", "0"):
                    env["QRT_CUDA_GEMM_MIN"] = limit
                    r = run([exe, "-p", PROMPT, "-n", "24", "-t", "0"], env=env)
                    outs[limit] = r.stdout
                    launched = gemm + " launched" in r.stderr
                    self.assertEqual(launched, limit == "", r.stderr)
                    self.assertIn("qnt_gemv_", r.stderr)
                self.assertEqual(outs[""], outs["0"])
        env["QRT_CUDA_GEMM_MIN"] = "eight"
        r = subprocess.run([exe, "-n", "5"], env=env, capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("QRT_CUDA_GEMM_MIN must be a token count (0: no GEMMs), not 'eight'",
                      r.stderr)

    def test_misaligned_4bit_data_is_refused_at_load(self):
        # The 4-bit GEMV loads each 16-byte block in one access; a weights
        # file whose 4-bit slot is not 16-byte aligned (qopt aligns to 64)
        # is corrupt, and loading says so instead of faulting on the device.
        exe = os.path.join(self.dir, "w4_misaligned")
        run([QOPT, "build", os.path.join(self.dir, "w4_g32.mlir"), "-o", exe, "--target=nvptx"])
        with open(exe + ".qrtw", "rb") as f:
            data = bytearray(f.read())
        for i, slot in enumerate(qrtw.slots(data)):
            if slot["kind"] == qrtw.KIND_Q4:
                offset = slot["data_offset"]
                qrtw.set_slot_field(data, i, "data_offset", offset + 4)
                name = slot["name"].rstrip(b"\0").decode()
                break
        qrtw.rehash(data)  # past the content check, to the alignment check
        with open(exe + ".qrtw", "wb") as f:
            f.write(data)
        r = subprocess.run([exe, "-n", "5"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"({name}): 4-bit data at offset {offset + 4} is not 16-byte aligned",
                      r.stderr)

    def test_without_a_driver_the_program_says_so(self):
        gpu = os.path.join(self.dir, "fp32_nodriver")
        run([QOPT, "build", os.path.join(self.dir, "fp32.mlir"), "-o", gpu, "--target=nvptx"])
        env = dict(os.environ, QRT_CUDA_DRIVER="/nonexistent/libcuda.so.1")
        r = subprocess.run([gpu, "-n", "5"], env=env, capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn("no NVIDIA driver: cannot load /nonexistent/libcuda.so.1", lines[0])
        os.environ["QRT_CUDA_DRIVER"] = "/nonexistent/libcuda.so.1"
        try:
            with self.assertRaisesRegex(QrtError, "no NVIDIA driver"):
                Model(self.built["fp32"][0])
        finally:
            os.environ["QRT_CUDA_DRIVER"] = os.path.abspath(MOCK)

    def test_what_the_cuda_backend_lacks_is_refused_at_build(self):
        d = self.dir
        nf4 = os.path.join(d, "nf4.mlir")
        run([QOPT, "compile", MODEL, "-o", nf4, "--recipe", "nf4"])
        static = os.path.join(d, "static.mlir")
        run([QOPT, "compile", MODEL, "-o", static, "--recipe", "w8a8", "--calib", self.calib,
             "--calib-samples", "4", "--calib-seqlen", "32"])
        fp32 = os.path.join(d, "fp32.mlir")
        cases = [
            ([nf4], "weight layers.0.wq: NF4 weights have no CUDA kernel"),
            ([static], "static activation quantization has no GPU kernel"),
            ([fp32, "--fuse=false"], "--target=nvptx needs the fusion passes"),
            ([fp32, "--act-int8"], "--act-int8 is a CPU kernel scheme"),
            ([fp32, "--gpu-arch=sm_70"], "--gpu-arch must be one of sm_80"),
        ]
        for args, message in cases:
            with self.subTest(message=message):
                out = os.path.join(d, "refused")
                r = subprocess.run([QOPT, "build", args[0], "-o", out, "--target=nvptx",
                                    *args[1:]], capture_output=True, text=True)
                self.assertNotEqual(r.returncode, 0)
                self.assertIn(message, r.stderr)
                self.assertFalse(os.path.exists(out))
                self.assertFalse(os.path.exists(out + ".qrtw"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
