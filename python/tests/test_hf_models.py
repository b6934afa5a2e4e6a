"""The whole path on synthetic Hugging Face checkpoints with real tokenizers
and chat templates (scripts/synth_model.py --tokenizer --chat-template): a
Qwen2-shape model with Phi-2's byte-level tokenizer and Qwen2.5's template,
and a Llama-3-shape one (rope_scaling) with Llama 2's SentencePiece-style
tokenizer and Llama-3.1's template: import -> compile --recipe awq-gptq ->
build; the program carries the tokenizer (its ids equal `qopt tokenize` on
the directory) and the template, generates, answers --chat with the greedy
reply, and stops at the model's EOS ids, in plain generation and in chat.

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
SYSTEM = "You answer in one short sentence."
QUESTION = "Where is the nearest lake?"
TEMPLATES = os.path.join(SHARED, "hf", "chat-templates")


def run(*args):
    return subprocess.run(args, check=True, capture_output=True, text=True)


def tokenize(tokenizer, text):
    return [int(x) for x in run(QOPT, "tokenize", tokenizer, "-p", text).stdout.split()]


class HfModels(unittest.TestCase):
    def greedy_chat(self, lib, count):
        """The reply --chat should print: the conversation rendered by the
        runtime, encoded without BOS, `count` greedy tokens."""
        with Model(lib, threads=1) as m:
            text = m.chat_prompt([{"role": "system", "content": SYSTEM},
                                  {"role": "user", "content": QUESTION}])
            ids = list(m.encode(text, bos=False))
            out = []
            logits = m.logits(ids, 0, last_only=True)[0]
            for _ in range(count):
                out.append(int(np.argmax(logits)))
                logits = m.logits([out[-1]], len(ids) + len(out) - 1)[0]
            pieces = [m.decode(p, t) for p, t in zip([ids[-1]] + out, out)]
        return text, out, pieces

    def chat_program(self, program, *extra):
        return run(program, "--chat", "--system", SYSTEM, "-p", QUESTION, "-t", "0", *extra)

    def whole_path(self, arch, tokenizer, template):
        with tempfile.TemporaryDirectory() as d:
            hf = os.path.join(d, "hf")
            # bf16 in three shards, as the Hub ships larger models; a context
            # that holds Llama-3.1's system header
            subprocess.run([sys.executable, SYNTH, "--shape", "tiny", "--format", "hf",
                            "--arch", arch, "--tokenizer", tokenizer, "--dtype", "bf16",
                            "--shards", "3", "--seq-len", "256",
                            "--chat-template", os.path.join(TEMPLATES, template), "-o", hf],
                           check=True, stderr=subprocess.DEVNULL)
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

            # --chat: the template the program carries renders as the
            # compiler's does, and the reply is the greedy continuation
            rendered, reply_ids, pieces = self.greedy_chat(os.path.join(d, "libq.so"), 6)
            self.assertEqual(rendered, run(QOPT, "chat-template", hf, "--system", SYSTEM,
                                           "-p", QUESTION).stdout)
            out = self.chat_program(os.path.join(d, "q"), "--n-predict", "6")
            self.assertEqual(out.stdout, "".join(pieces) + "\n")
            self.assertIn("6 generated", out.stderr)
            # two turns from standard input: two replies, the first as above
            two = subprocess.run([os.path.join(d, "q"), "--chat", "--system", SYSTEM, "-t", "0",
                                  "--n-predict", "6"], input=QUESTION + "\nAnd then?\n",
                                 capture_output=True, text=True, check=True)
            self.assertEqual(two.stdout.split("\n")[0], "".join(pieces))
            self.assertEqual(len(two.stdout.split("\n")), 3, two.stdout)
            # a turn that is not UTF-8 text: one line, exit 1, in both
            for cmd in ([os.path.join(d, "q"), "--chat"], [QOPT, "run", hf, "--chat"]):
                bad = subprocess.run(cmd, input=b"hi \xff\n", capture_output=True)
                self.assertEqual(bad.returncode, 1)
                self.assertIn(b"not UTF-8 text", bad.stderr)
                self.assertEqual(len(bad.stderr.strip().splitlines()[-1:]), 1)
                self.assertEqual(bad.stdout, b"")
            # the reply stops at an EOS id: the third greedy token's
            with open(os.path.join(hf, "generation_config.json"), "w") as f:
                json.dump({"eos_token_id": [0, reply_ids[2]]}, f)
            run(QOPT, "build", q, "--tokenizer", hf, "-o", os.path.join(d, "chatstop"))
            out = self.chat_program(os.path.join(d, "chatstop"))
            self.assertEqual(out.stdout, "".join(pieces[:2]) + "\n")
            self.assertIn("2 generated", out.stderr)
            # qopt run --chat (the executor) gives the float program's reply
            run(QOPT, "build", hf, "-o", os.path.join(d, "float"))
            program = self.chat_program(os.path.join(d, "float"), "--n-predict", "6").stdout
            executor = run(QOPT, "run", hf, "--chat", "--system", SYSTEM, "-p", QUESTION, "-t",
                           "0", "--n-predict", "6").stdout
            self.assertEqual(executor, program)

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
        ids = self.whole_path("qwen2", os.path.join(SHARED, "hf", "phi-2"),
                              "Qwen-Qwen2.5-7B-Instruct.jinja")
        self.assertNotEqual(ids[0], 1)  # Phi-2 adds no BOS

    def test_llama3_shape_with_sentencepiece_tokenizer(self):
        ids = self.whole_path("llama3", os.path.join(SHARED, "hf", "llama2"),
                              "meta-llama-Llama-3.1-8B-Instruct.jinja")
        self.assertEqual(ids[0], 1)  # add_bos_token
        self.assertIn(1, ids[1:])  # "<s>" in the text is the special token


if __name__ == "__main__":
    unittest.main()
