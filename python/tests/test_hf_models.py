"""The whole path on synthetic Hugging Face checkpoints with real tokenizers
(scripts/synth_model.py --tokenizer): a Qwen2-shape model with Phi-2's
byte-level tokenizer and a Llama-3-shape one (rope_scaling) with Llama 2's
SentencePiece-style one: import -> compile --recipe awq-gptq -> build; the
program carries the tokenizer (its ids equal `qopt tokenize` on the
directory), generates, and stops at the model's EOS ids.

  QOPT=build/bin/qopt QOPT_SHARED=../shared /usr/bin/python3 python/tests/test_hf_models.py
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
from qopt_runtime import Model  # noqa: E402

QOPT = os.environ.get("QOPT", "build/bin/qopt")
SHARED = os.environ.get("QOPT_SHARED", os.path.join(ROOT, "..", "shared"))
SYNTH = os.path.join(ROOT, "scripts", "synth_model.py")
CALIB = os.path.join(SHARED, "data", "tinystories", "dev.txt")
TEXT = "Hello world, it's 2026: caf\u00e9 \u6771\u4eac \U0001F642 <s> tabs\t\tand   spaces"
PROMPT = "Once upon a time"


def run(*args):
    return subprocess.run(args, check=True, capture_output=True, text=True)


def tokenize(tokenizer, text):
    return [int(x) for x in run(QOPT, "tokenize", tokenizer, "-p", text).stdout.split()]


class HfModels(unittest.TestCase):
    def whole_path(self, arch, tokenizer):
        with tempfile.TemporaryDirectory() as d:
            hf = os.path.join(d, "hf")
            # bf16 in three shards, as the Hub ships larger models
            subprocess.run([sys.executable, SYNTH, "--shape", "tiny", "--format", "hf",
                            "--arch", arch, "--tokenizer", tokenizer, "--dtype", "bf16",
                            "--shards", "3", "-o", hf], check=True, stderr=subprocess.DEVNULL)
            self.assertTrue(os.path.exists(os.path.join(hf, "model.safetensors.index.json")))
            q = os.path.join(d, "q.mlir")
            run(QOPT, "compile", hf, "--recipe", "awq-gptq", "--calib", CALIB,
                "--calib-seqlen", "32", "--calib-samples", "8", "--quiet", "-o", q)
            run(QOPT, "build", q, "-o", os.path.join(d, "q"), "--emit", "shared")
            run(QOPT, "build", q, "-o", os.path.join(d, "q"))
            want = tokenize(hf, TEXT)
            with Model(os.path.join(d, "libq.so"), threads=1) as m:
                # the runtime's tokenizer, from the weights file, is the compiler's
                self.assertEqual(list(m.encode(TEXT)), want)
                text = m.generate(PROMPT, steps=24, temperature=0)
            self.assertTrue(text.startswith(PROMPT), text)
            out = run(os.path.join(d, "q"), "-p", PROMPT, "-n", "24", "-t", "0")
            self.assertEqual(out.stdout.rstrip("\n"), text)

            # Stopping: the greedy first token made an EOS id (beside another)
            # in generation_config.json ends generation before it is printed,
            # in qopt run and in the built program.
            logits = os.path.join(d, "l.npy")
            run(QOPT, "logits", hf, "-p", PROMPT, "-o", logits)
            first = int(np.argmax(np.load(logits)[-1]))
            with open(os.path.join(hf, "generation_config.json"), "w") as f:
                json.dump({"eos_token_id": [0, first]}, f)
            r = run(QOPT, "run", hf, "-p", PROMPT, "-n", "24", "-t", "0")
            self.assertEqual(r.stdout.rstrip("\n"), PROMPT)
            self.assertIn("0 generated tokens", r.stderr)
            run(QOPT, "build", hf, "-o", os.path.join(d, "stop"))
            r = run(os.path.join(d, "stop"), "-p", PROMPT, "-n", "24", "-t", "0")
            self.assertEqual(r.stdout.rstrip("\n"), PROMPT)
            self.assertIn("0 tokens in", r.stderr)
            return want

    def test_qwen2_with_byte_level_tokenizer(self):
        ids = self.whole_path("qwen2", os.path.join(SHARED, "hf", "phi-2"))
        self.assertNotEqual(ids[0], 1)  # Phi-2 adds no BOS

    def test_llama3_shape_with_sentencepiece_tokenizer(self):
        ids = self.whole_path("llama3", os.path.join(SHARED, "hf", "llama2"))
        self.assertEqual(ids[0], 1)  # add_bos_token
        self.assertIn(1, ids[1:])  # "<s>" in the text is the special token


if __name__ == "__main__":
    unittest.main()
