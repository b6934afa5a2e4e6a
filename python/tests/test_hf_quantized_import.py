"""qopt import of Hugging Face GPTQ and AWQ checkpoints.

The checkpoints are written here in numpy as AutoGPTQ (v1 and gptq_v2) and
AutoAWQ (GEMM) write them, from a synthetic tiny Llama: RTN codes in
AutoGPTQ's Quantizer convention, packed by the transcriptions in
python/qopt_ref/packed_quant.py. The reference logits come from those
packers' own unpacking (AutoGPTQ's torch forward, AutoAWQ's
dequantize_gemm) run through the numpy forward with rotate-half rope, as
transformers runs them; qopt's logits of the imported IR must equal them.
Linears qnt holds exactly stay quantized and export back to the same bytes;
the rest become their exact dequantized values, with a note; damaged
checkpoints are refused in one line with nothing written.

  QOPT=build/bin/qopt QOPT_SHARED=../shared /usr/bin/python3 python/tests/test_hf_quantized_import.py
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
from qopt_ref import hf_export, llama  # noqa: E402
from qopt_ref.packed_quant import (autogptq_pack, autogptq_unpack, awq_pack,  # noqa: E402
                                   awq_unpack, read_safetensors, write_safetensors_arrays)
from qopt_runtime import Model  # noqa: E402

QOPT = os.environ.get("QOPT", os.path.join(ROOT, "build", "bin", "qopt"))
SHARED = os.environ.get("QOPT_SHARED", os.path.join(ROOT, "..", "shared"))
TOK = os.path.join(SHARED, "models", "stories260K", "tok512.bin")
TOKENS = [1, 403, 407, 261, 378, 429, 267, 400, 260, 288]
LINEARS = 14  # tiny: 2 layers x 7


def qopt(*args, check=True):
    proc = subprocess.run([QOPT, *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"qopt {' '.join(args)} failed: {proc.stderr}")
    return proc


def qopt_logits(mlir, tmp):
    npy = os.path.join(tmp, "logits.npy")
    qopt("logits", mlir, "--tokens", ",".join(map(str, TOKENS)), "-o", npy)
    return np.load(npy)


def rtn(w, bits, g_idx, sym):
    """AutoGPTQ's Quantizer (find_params + quantize) per group of input
    channels named by g_idx: w [out, in] -> intweight [in, out], zero
    points [groups, out], scales f16 [groups, out]."""
    maxq = (1 << bits) - 1
    groups = int(g_idx.max()) + 1
    q = np.zeros((w.shape[1], w.shape[0]), np.int64)
    zeros = np.zeros((groups, w.shape[0]), np.int64)
    scales = np.zeros((groups, w.shape[0]), np.float16)
    for g in range(groups):
        cols = np.where(g_idx == g)[0]
        x = w[:, cols]
        xmin, xmax = np.minimum(x.min(1), 0), np.maximum(x.max(1), 0)
        if sym:
            xmax = np.maximum(-xmin, xmax)
            xmin = -xmax
        s = ((xmax - xmin) / maxq).astype(np.float16)
        s[s == 0] = 1
        sf = s.astype(np.float32)
        z = np.full(w.shape[0], (maxq + 1) // 2) if sym else np.round(-xmin / sf)
        q[cols] = np.clip(np.round(x / sf[:, None]) + z[:, None], 0, maxq).T
        zeros[g], scales[g] = z, s
    return q, zeros, scales


def reference_weights(cfg, t):
    """llama.forward's weight dict from HF-named [out, in] float arrays."""
    w = {"tok": t["model.embed_tokens.weight"], "rms_final": t["model.norm.weight"]}
    w["cls"] = t.get("lm_head.weight", w["tok"])
    for key, leaf in (("rms_att", "input_layernorm"), ("rms_ffn", "post_attention_layernorm"),
                      ("wq", "self_attn.q_proj"), ("wk", "self_attn.k_proj"),
                      ("wv", "self_attn.v_proj"), ("wo", "self_attn.o_proj"),
                      ("w1", "mlp.gate_proj"), ("w2", "mlp.down_proj"), ("w3", "mlp.up_proj")):
        w[key] = np.stack([t[f"model.layers.{l}.{leaf}.weight"] for l in range(cfg.n_layers)])
    return w


class HfQuantizedImport(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        ckpt = os.path.join(cls.tmp.name, "tiny.bin")
        subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "scripts", "synth_model.py"),
                        "--shape", "tiny", "-o", ckpt], check=True, capture_output=True)
        cls.ckpt = ckpt
        cls.cfg, w = llama.read_llama2c(ckpt)
        cls.hf = dict(hf_export.hf_tensors(cls.cfg, w))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def checkpoint(self, name, method, bits, group, sym=False, act_order=False, v2=False,
                   damage=None, qconfig=None, reference=True):
        """Writes a quantized HF directory; returns (dir, reference weights)."""
        d = os.path.join(self.tmp.name, name)
        os.makedirs(d)
        rng = np.random.default_rng(7)
        tensors, ref = {}, {}
        for hf_name, arr in self.hf.items():
            if not hf_name.endswith("_proj.weight"):
                tensors[hf_name] = ("F32", arr)
                ref[hf_name] = arr
                continue
            base = hf_name[:-len(".weight")]
            k = arr.shape[1]
            width = group if group > 0 else k
            order = rng.permutation(k) if act_order else np.arange(k)
            g_idx = (np.argsort(order) // width).astype(np.int32)
            q, zeros, scales = rtn(arr, bits, g_idx, sym)
            if method == "awq":
                qweight, qzeros = awq_pack(q, zeros)
                ref[hf_name] = awq_unpack(qweight, qzeros, scales, width)[0]
            else:
                self.assertTrue(v2 or zeros.min() >= 1, "v1 cannot store a zero point of 0")
                qweight, qzeros = autogptq_pack(q, zeros + 1 if v2 else zeros, bits)
                tensors[base + ".g_idx"] = ("I32", g_idx)
            tensors[base + ".qweight"] = ("I32", qweight)
            tensors[base + ".qzeros"] = ("I32", qzeros)
            tensors[base + ".scales"] = ("F16", scales)
        if damage:
            damage(tensors)
        if method == "gptq" and reference:
            for hf_name in ref.keys() ^ self.hf.keys():
                base = hf_name[:-len(".weight")]
                ref[hf_name] = autogptq_unpack(
                    tensors[base + ".qweight"][1], tensors[base + ".qzeros"][1],
                    tensors[base + ".scales"][1], tensors[base + ".g_idx"][1], bits,
                    zero_offset=0 if v2 else 1)[0]
        write_safetensors_arrays(os.path.join(d, "model.safetensors"), tensors)
        config = hf_export.config_json(self.cfg, "F32")
        if method == "awq":
            config["quantization_config"] = {"quant_method": "awq", "bits": bits,
                                             "group_size": group, "zero_point": True,
                                             "version": "gemm"}
        else:
            config["quantization_config"] = {
                "quant_method": "gptq", "bits": bits, "group_size": group,
                "desc_act": act_order, "sym": sym,
                "checkpoint_format": "gptq_v2" if v2 else "gptq"}
        config["quantization_config"].update(qconfig or {})
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(config, f)
        return d, ref

    def imports(self, d, ref, kept, note=None):
        """Imports `d`; its logits must be the reference's. Returns the .mlir."""
        mlir = d + ".mlir"
        proc = qopt("import", d, "--tokenizer", TOK, "-o", mlir)
        if kept:
            self.assertIn(f"{kept} weights kept quantized", proc.stderr)
        else:
            self.assertNotIn("kept quantized", proc.stderr)
        if note:
            self.assertIn(note, proc.stderr)
        else:
            self.assertNotIn("dequantized", proc.stderr)
        expected = llama.forward(self.cfg, reference_weights(self.cfg, ref), TOKENS,
                                 interleaved=False)
        got = qopt_logits(mlir, self.tmp.name)
        err = np.max(np.abs(got - expected)) / np.max(np.abs(expected))
        self.assertLess(err, 1e-5)
        return mlir

    def test_gptq_v1_asymmetric_g32_stays_quantized_and_exports_back(self):
        d, ref = self.checkpoint("v1-asym", "gptq", 4, 32)
        mlir = self.imports(d, ref, LINEARS)
        with open(mlir) as f:
            ir = f.read()
        self.assertEqual(ir.count("<format = int, bits = 4, group_size = 32, symmetric = false"),
                         LINEARS)
        out = d + "-again"
        qopt("export", mlir, "--format", "hf-gptq", "-o", out)
        ours = read_safetensors(os.path.join(out, "model.safetensors"))
        theirs = read_safetensors(os.path.join(d, "model.safetensors"))
        for name, arr in theirs.items():
            if name.rsplit(".", 1)[1] in ("qweight", "qzeros", "scales", "g_idx"):
                np.testing.assert_array_equal(ours[name], arr, name)

    def test_qopt_export_import_export_is_bit_identical(self):
        d = self.tmp.name
        base, w4 = os.path.join(d, "base.mlir"), os.path.join(d, "w4.mlir")
        qopt("import", self.ckpt, "--tokenizer", TOK, "-o", base)
        qopt("compile", base, "-o", w4, "--recipe", "rtn", "--bits", "4", "--group-size", "32")
        first, back, second = (os.path.join(d, n) for n in ("first", "back.mlir", "second"))
        qopt("export", w4, "--format", "hf-gptq", "-o", first)
        proc = qopt("import", first, "-o", back)
        self.assertIn(f"{LINEARS} weights kept quantized", proc.stderr)
        qopt("export", back, "--format", "hf-gptq", "-o", second)
        with open(os.path.join(first, "model.safetensors"), "rb") as a, \
                open(os.path.join(second, "model.safetensors"), "rb") as b:
            self.assertTrue(a.read() == b.read(), "re-exported model.safetensors differs")
        want = qopt_logits(w4, d)
        self.assertLess(np.max(np.abs(qopt_logits(back, d) - want)), 1e-5 * np.max(np.abs(want)))

    def test_sharded_with_a_linear_split_across_shards(self):
        d, ref = self.checkpoint("sharded", "gptq", 4, 32)
        single = os.path.join(d, "model.safetensors")
        tensors = read_safetensors(single)
        names = {np.dtype("<f4"): "F32", np.dtype("<f2"): "F16", np.dtype("<i4"): "I32"}
        shards = {"model-00001-of-00002.safetensors": {}, "model-00002-of-00002.safetensors": {}}
        weight_map = {}
        for i, (name, arr) in enumerate(sorted(tensors.items())):
            shard = sorted(shards)[i % 2]  # a linear's four tensors alternate between files
            shards[shard][name] = (names[arr.dtype], arr)
            weight_map[name] = shard
        os.remove(single)
        for shard, part in shards.items():
            write_safetensors_arrays(os.path.join(d, shard), part)
        with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {}, "weight_map": weight_map}, f)
        self.imports(d, ref, LINEARS)

    def test_gptq_symmetric_8bit_per_channel(self):
        d, ref = self.checkpoint("w8-sym", "gptq", 8, -1, sym=True)
        self.imports(d, ref, LINEARS)

    def test_gptq_v2_2bit_g16(self):
        d, ref = self.checkpoint("v2-w2", "gptq", 2, 16, v2=True)
        self.imports(d, ref, LINEARS)

    def test_act_order_becomes_exact_floats(self):
        d, ref = self.checkpoint("act-order", "gptq", 4, 32, sym=True, act_order=True)
        self.imports(d, ref, 0, note=f"{LINEARS} gptq 4-bit g32 linear(s) dequantized to "
                                     "their exact f32 values (act-order g_idx")

    def test_v1_zero_point_of_2_to_the_bits_becomes_exact_floats(self):
        # a stored zero of 15 is read as 16 by AutoGPTQ's forward (z - 1 + 1)
        def overflow(t):
            t["model.layers.1.mlp.up_proj.qzeros"][1][0, :] = -1
        d, ref = self.checkpoint("v1-overflow", "gptq", 4, 32, damage=overflow)
        self.imports(d, ref, LINEARS - 1, note="1 gptq 4-bit g32 linear(s) dequantized to "
                                                "their exact f32 values (GPTQ v1 zero points")

    def test_awq_gemm_imports_evaluates_and_builds(self):
        d, ref = self.checkpoint("awq", "awq", 4, 32)
        mlir = self.imports(d, ref, LINEARS)
        # AutoAWQ's unpacking inverts its packing (the transcriptions agree)
        t = read_safetensors(os.path.join(d, "model.safetensors"))
        base = "model.layers.0.mlp.down_proj"
        _, iw, iz = awq_unpack(t[base + ".qweight"], t[base + ".qzeros"], t[base + ".scales"], 32)
        qw, qz = awq_pack(iw, iz)
        np.testing.assert_array_equal(qw, t[base + ".qweight"])
        np.testing.assert_array_equal(qz, t[base + ".qzeros"])
        text = os.path.join(self.tmp.name, "text.txt")
        with open(text, "w") as f:
            f.write("Once upon a time there was a little girl who liked to play. " * 20)
        self.assertIn("perplexity:", qopt("eval", mlir, text, "--ctx", "64").stdout)
        prog = os.path.join(self.tmp.name, "awq-prog")
        qopt("build", mlir, "-o", prog, "--emit", "shared", "--act-int8=false")
        with Model(os.path.join(self.tmp.name, "libawq-prog.so"), threads=1) as m:
            got = m.logits(TOKENS, 0)
        want = qopt_logits(mlir, self.tmp.name)
        self.assertLess(np.max(np.abs(got - want)), 1e-3 * np.max(np.abs(want)))


class DamagedCheckpoints(unittest.TestCase):
    """Each damage: exit 1, one line naming the problem, no .mlir written."""

    @classmethod
    def setUpClass(cls):
        HfQuantizedImport.setUpClass.__func__(cls)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    checkpoint = HfQuantizedImport.checkpoint

    def refused(self, name, phrase, method="gptq", bits=4, damage=None, qconfig=None,
                edit_config=None):
        d, _ = self.checkpoint(name, method, bits, 32, damage=damage, qconfig=qconfig,
                               reference=False)
        if edit_config:
            path = os.path.join(d, "config.json")
            with open(path) as f:
                config = json.load(f)
            edit_config(config)
            with open(path, "w") as f:
                json.dump(config, f)
        out = d + ".mlir"
        proc = qopt("import", d, "--tokenizer", TOK, "-o", out, check=False)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, proc.stderr)
        self.assertIn(phrase, lines[0])
        self.assertFalse(os.path.exists(out))
        self.assertFalse(os.path.exists(d + ".safetensors"))

    def test_g_idx_outside_its_groups(self):
        def bad(t):
            t["model.layers.0.self_attn.q_proj.g_idx"][1][5] = 9
        self.refused("gidx-range", "g_idx is not a permutation of its groups: g_idx[5] = 9",
                     damage=bad)

    def test_g_idx_with_uneven_groups(self):
        def bad(t):
            t["model.layers.0.self_attn.q_proj.g_idx"][1][0] = 1
        self.refused("gidx-count", "g_idx is not a permutation of its groups: group 0 has 31",
                     damage=bad)

    def test_wrong_shape_and_dtype(self):
        name = "model.layers.1.mlp.down_proj"
        def shape(t):
            t[name + ".qweight"] = ("I32", t[name + ".qweight"][1][:-1])
        self.refused("shape", f"tensor '{name}.qweight' has shape [15, 64]", damage=shape)
        def dtype(t):
            t[name + ".scales"] = ("F32", t[name + ".scales"][1].astype(np.float32))
        self.refused("dtype", f"tensor '{name}.scales' has dtype F32", damage=dtype)

    def test_missing_qzeros(self):
        def bad(t):
            del t["model.layers.0.mlp.up_proj.qzeros"]
        self.refused("no-qzeros", "'model.layers.0.mlp.up_proj.qzeros' is missing", damage=bad)

    def test_nan_scale(self):
        def bad(t):
            t["model.layers.0.mlp.up_proj.scales"][1][1, 3] = np.nan
        self.refused("nan", "scales hold NaN or Inf (group 1, output channel 3)", damage=bad)

    def test_weight_and_packed_tensors_both(self):
        def bad(t):
            t["model.layers.0.mlp.up_proj.weight"] = ("F32", np.zeros((128, 64), np.float32))
        self.refused("both", "stored both as model.layers.0.mlp.up_proj.weight", damage=bad)

    def test_packed_tensors_of_a_norm(self):
        # found by fuzz_checkpoint: a vector's ".qweight" read as a matrix's
        def bad(t):
            t["model.norm.qweight"] = ("I32", np.zeros((4, 64), np.int32))
        self.refused("norm", "unexpected tensor 'model.norm.qweight'", damage=bad)

    def test_packed_tensors_without_quantization_config(self):
        self.refused("no-qconfig", "but config.json has no quantization_config",
                     edit_config=lambda c: c.pop("quantization_config"))

    def test_unsupported_configurations(self):
        self.refused("bits3", "3-bit GPTQ packs codes across 32-bit words",
                     qconfig={"bits": 3})
        self.refused("gemv", "AWQ version 'gemv' is not supported", method="awq",
                     qconfig={"version": "gemv"})
        self.refused("bnb", "quant_method 'bitsandbytes' is not supported",
                     qconfig={"quant_method": "bitsandbytes"})
        self.refused("marlin", "checkpoint_format 'marlin' is not supported",
                     qconfig={"checkpoint_format": "marlin"})
        self.refused("group0", "group_size must be -1 (per channel) or positive, got 0",
                     qconfig={"group_size": 0})
        self.refused("bits-type", "field 'bits' must be an integer", qconfig={"bits": "4"})
        self.refused("qc-type", "quantization_config must be an object",
                     edit_config=lambda c: c.update(quantization_config=[1]))


if __name__ == "__main__":
    unittest.main()
