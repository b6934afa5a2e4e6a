"""qopt's tokenizer (runtime/tokenizer/, through `qopt tokenize`) against
implementations written by someone else, token for token:
  - Llama 2's tokenizer.json against sentencepiece on its tokenizer.model,
    over TinyStories dev.txt, WikiText-2 test and a stress text;
  - Phi-2's byte-level tokenizer.json against a transcription of GPT-2's
    published encoder (python/qopt_ref/gpt2_bpe.py, on the `regex` module);
  - llama.cpp's own test vectors for the Llama SentencePiece and GPT-2
    vocabularies (shared/hf/gguf-vocab/*.inp / *.out);
  - Phi-3-mini's added tokens matched whole, the text between them as
    sentencepiece encodes it.

  QOPT=build/bin/qopt QOPT_SHARED=../shared /usr/bin/python3 python/tests/test_tokenizers.py
"""
import json
import os
import struct
import subprocess
import sys
import tempfile
import unicodedata
import unittest

import sentencepiece as spm

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "python"))
from qopt_ref import gguf_read, gpt2_bpe  # noqa: E402

QOPT = os.environ.get("QOPT", "build/bin/qopt")
SHARED = os.environ.get("QOPT_SHARED", os.path.join(ROOT, "..", "shared"))
HF = os.path.join(SHARED, "hf")
LLAMA2_JSON = os.path.join(HF, "llama2", "tokenizer.json")
LLAMA2_MODEL = os.path.join(SHARED, "models", "llama2-tokenizer", "tokenizer.model")
PHI2_JSON = os.path.join(HF, "phi-2", "tokenizer.json")
PHI3_JSON = os.path.join(HF, "phi-3-mini", "tokenizer.json")
# the Split regexes of Llama 3's and Qwen2's tokenizer.json
LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_SPLIT = LLAMA3_SPLIT.replace(r"\p{N}{1,3}", r"\p{N}")
SEP = "__qopt_text__"

STRESS = "\n".join([
    "Emoji: 🙂🙃 👩‍👩‍👧‍👦 🇯🇵 ❤️ and more 🎉🎉🎉",
    "CJK: 東京は日本の首都です。北京欢迎你。한국어 텍스트",
    "Combining: e\u0301 a\u0308 n\u0303 Z\u0351\u0352\u0353 ǅ ﬁ",
    # (no U+00A0: this tokenizer.json has U+0020 where tokenizer.model has
    # U+00A0, in pieces 20246 and 30081, so the two files disagree there)
    "Whitespace:  two   three    four\t\ttabs \u3000ideographic \u2003em",
    "\n\n\nblank lines above, trailing spaces    ",
    "Digits: 0 12 345 6789 3.14159 1,000,000 ١٢٣ ½",
    "Code: def f(x):\n    return x**2 + 1  # comment\n\tif (a && b) { c[i] = 'q'; }",
    "Punctuation: ... !!! ??? --- ''' \"\" <<>> @#$%^&*()_+",
    "Mixed scripts: Ελληνικά русский עברית العربية हिन्दी ไทย",
    "Contractions: it's we're they've I'm you'll he'd DON'T",
])


def qopt_tokenize(tokenizer, texts, bos=False):
    """One `qopt tokenize` run over several texts; their id lists."""
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt", delete=False) as f:
        f.write(("\n" + SEP + "\n").join(texts) + "\n" + SEP + "\n")
        path = f.name
    try:
        out = subprocess.run([QOPT, "tokenize", tokenizer, "--file", path, "--separator", SEP,
                              "--bos=" + ("true" if bos else "false")],
                             check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(path)
    lines = out.split("\n")[:-1]
    return [[int(x) for x in line.split()] for line in lines]


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def llama_cpp_vectors(name):
    base = os.path.join(HF, "gguf-vocab", name)
    texts = read(base + ".inp").split("\n__ggml_vocab_test__\n")
    if texts and texts[-1] == "":
        texts.pop()
    ids = [[int(x) for x in line.split()] for line in read(base + ".out").split("\n")]
    return texts, ids[:len(texts)]


def without_added_tokens(tokenizer_json, directory):
    """A copy of tokenizer.json with its added tokens set aside (the GPT-2
    vocabulary as llama.cpp and GPT-2's encoder know it)."""
    j = json.loads(read(tokenizer_json))
    vocab = j["model"]["vocab"]
    j["added_tokens"] = [t for t in j["added_tokens"] if t["content"] in vocab]
    path = os.path.join(directory, "tokenizer.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(j, f)
    return path


class SentencePieceStyle(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sp = spm.SentencePieceProcessor(model_file=LLAMA2_MODEL)

    def check_texts(self, texts, what):
        ours = qopt_tokenize(LLAMA2_JSON, texts)
        self.assertEqual(len(ours), len(texts))
        for text, got in zip(texts, ours):
            want = self.sp.encode(text)
            if got != want:
                first = next(i for i in range(min(len(got), len(want)) + 1)
                             if i >= min(len(got), len(want)) or got[i] != want[i])
                self.fail(f"{what}: ids differ from sentencepiece at token {first} "
                          f"(qopt {got[first:first + 5]}, sentencepiece {want[first:first + 5]})")
        return sum(len(x) for x in ours)

    def test_tinystories_dev_whole_file(self):
        n = self.check_texts([read(os.path.join(SHARED, "data", "tinystories", "dev.txt"))],
                             "dev.txt")
        self.assertGreater(n, 50000)

    def test_wikitext2_test_whole_file(self):
        n = self.check_texts([read(os.path.join(SHARED, "data", "wikitext-2", "test.raw.txt"))],
                             "wikitext-2")
        self.assertGreater(n, 200000)

    def test_stress_text_and_its_lines(self):
        self.check_texts([STRESS] + STRESS.split("\n") + ["", " ", "  ", "\n", "a"], "stress")

    def test_llama_cpp_vectors(self):
        texts, want = llama_cpp_vectors("ggml-vocab-llama-spm.gguf")
        self.assertEqual(len(texts), 46)
        self.assertEqual(qopt_tokenize(LLAMA2_JSON, texts), want)

    def test_vocabulary_of_a_llama_cpp_gguf(self):
        """The SentencePiece vocabulary llama.cpp wrote into a GGUF
        (tokenizer.ggml.*), read by qopt: llama.cpp's own test vectors, and
        sentencepiece on a whole file."""
        gguf = os.path.join(HF, "gguf-vocab", "ggml-vocab-llama-spm.gguf")
        texts, want = llama_cpp_vectors("ggml-vocab-llama-spm.gguf")
        self.assertEqual(qopt_tokenize(gguf, texts), want)
        dev = read(os.path.join(SHARED, "data", "tinystories", "dev.txt"))
        self.assertEqual(qopt_tokenize(gguf, [dev])[0], self.sp.encode(dev))

    def test_tokenizer_json_written_into_a_gguf(self):
        """qopt export of a model with Llama 2's tokenizer.json: the GGUF's
        vocabulary is the one llama.cpp's converter wrote from tokenizer.model
        (ggml-vocab-llama-spm.gguf), its scores make llama.cpp's test vectors
        and sentencepiece's ids on a whole file, and the chat template goes
        along."""
        with tempfile.TemporaryDirectory() as d:
            template = os.path.join(HF, "chat-templates", "mistralai-Mistral-Nemo-Instruct-2407.jinja")
            subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "synth_model.py"),
                            "--shape", "tiny", "--format", "hf", "--tokenizer",
                            os.path.join(HF, "llama2"), "--chat-template", template,
                            "-o", os.path.join(d, "hf")], check=True, capture_output=True)
            gguf = os.path.join(d, "m.gguf")
            subprocess.run([QOPT, "export", os.path.join(d, "hf"), "-o", gguf], check=True,
                           capture_output=True)
            ours, _ = gguf_read.read(gguf)
            theirs, _ = gguf_read.read(os.path.join(HF, "gguf-vocab",
                                                    "ggml-vocab-llama-spm.gguf"))
            for key in ("model", "bos_token_id", "eos_token_id", "unknown_token_id",
                        "add_bos_token", "add_eos_token", "token_type"):
                self.assertEqual(ours["tokenizer.ggml." + key], theirs["tokenizer.ggml." + key],
                                 key)
            # tokenizer.json spells four pieces with spaces that tokenizer.model
            # has as U+00A0; no text reaches them (spaces become U+2581 first)
            a, b = ours["tokenizer.ggml.tokens"], theirs["tokenizer.ggml.tokens"]
            differ = [i for i in range(len(b)) if a[i] != b[i]]
            self.assertEqual(len(a), len(b))
            self.assertEqual(differ, [8655, 17891, 20246, 30081])
            self.assertTrue(all(a[i].replace(" ", "\xa0") == b[i] for i in differ))
            with open(template, encoding="utf-8") as f:
                self.assertEqual(ours["tokenizer.chat_template"], f.read())
            texts, want = llama_cpp_vectors("ggml-vocab-llama-spm.gguf")
            self.assertEqual(qopt_tokenize(gguf, texts), want)
            dev = read(os.path.join(SHARED, "data", "tinystories", "dev.txt"))
            self.assertEqual(qopt_tokenize(gguf, [dev])[0], self.sp.encode(dev))
            # read back, the template carries qopt's vocabulary as QTOK (merges
            # derived from the scores): the same conversation, the same ids
            def render(source, *extra):
                return subprocess.run([QOPT, "chat-template", source, "-p", "Where is Paris?",
                                       "--system", "Be brief.", *extra], check=True,
                                      capture_output=True, text=True).stdout
            for extra in ((), ("--tokens",)):
                self.assertEqual(render(gguf, *extra), render(os.path.join(d, "hf"), *extra))
            self.assertIn("Where is Paris?", render(gguf))

    def test_bos_from_tokenizer_config(self):
        # tokenizer_config.json: add_bos_token true, bos_token <s> (id 1)
        self.assertEqual(qopt_tokenize(LLAMA2_JSON, ["Hello"], bos=True)[0],
                         [1] + self.sp.encode("Hello"))

    def test_phi3_added_tokens_matched_whole(self):
        j = json.loads(read(PHI3_JSON))
        added = {t["content"]: t for t in j["added_tokens"]}
        self.assertEqual(len(added), 14)
        specials = [t for t in added if t not in ("<unk>",)]
        text = "".join(f"{s}{piece} " for s, piece in zip(
            specials, ["Hi", " there", "\n\nsystem", "東京", " 12 ", "x", "🙂", " ", "a  b",
                       "\tc", "done", "ok", "end"]))
        text += "<|user|>\nWhat is 2+2?<|end|>\n<|assistant|>"
        ours = qopt_tokenize(PHI3_JSON, [text])[0]
        # Hugging Face: split out added tokens on the raw text (rstrip takes
        # the whitespace after), each run between normalized on its own:
        # sentencepiece, dummy prefix included, encodes each run.
        want, at, start = [], 0, 0
        while at < len(text):
            best = max((t for t in added if text.startswith(t, at)), key=len, default=None)
            if best is None:
                at += 1
                continue
            if at > start:
                want += self.sp.encode(text[start:at])
            want.append(added[best]["id"])
            at += len(best)
            if added[best]["rstrip"]:
                while at < len(text) and text[at] in " \t\n\r":
                    at += 1
            start = at
        if start < len(text):
            want += self.sp.encode(text[start:])
        self.assertEqual(ours, want)
        for t in specials:
            self.assertIn(added[t]["id"], ours, t)


class ByteLevel(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gpt2 = gpt2_bpe.Encoder(PHI2_JSON)
        cls.tmp = tempfile.TemporaryDirectory()
        cls.plain_json = without_added_tokens(PHI2_JSON, cls.tmp.name)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_llama_cpp_gpt2_vectors(self):
        texts, want = llama_cpp_vectors("ggml-vocab-gpt-2.gguf")
        self.assertEqual(len(texts), 46)
        self.assertEqual(qopt_tokenize(self.plain_json, texts), want)

    def export_gguf(self, tokenizer_json, d):
        """qopt export of a tiny synthetic model with this tokenizer.json."""
        tok = os.path.join(d, "tok")
        os.makedirs(tok, exist_ok=True)
        with open(tokenizer_json, encoding="utf-8") as f, \
                open(os.path.join(tok, "tokenizer.json"), "w", encoding="utf-8") as g:
            g.write(f.read())
        with open(os.path.join(HF, "phi-2", "tokenizer_config.json"), encoding="utf-8") as f, \
                open(os.path.join(tok, "tokenizer_config.json"), "w", encoding="utf-8") as g:
            g.write(f.read())
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "synth_model.py"),
                        "--shape", "tiny", "--format", "hf", "--tokenizer", tok,
                        "-o", os.path.join(d, "hf")], check=True, capture_output=True)
        gguf = os.path.join(d, "m.gguf")
        return gguf, subprocess.run([QOPT, "export", os.path.join(d, "hf"), "-o", gguf],
                                    capture_output=True, text=True)

    def test_tokenizer_json_written_into_a_gguf(self):
        """GPT-2's vocabulary (Phi-2's tokenizer.json without its added
        whitespace tokens) exported by qopt: what llama.cpp's converter wrote
        into ggml-vocab-gpt-2.gguf, merges and pre-tokenizer included, and
        the padding rows unused."""
        with tempfile.TemporaryDirectory() as d:
            gguf, p = self.export_gguf(self.plain_json, d)
            self.assertEqual(p.returncode, 0, p.stderr)
            ours, _ = gguf_read.read(gguf)
            theirs, _ = gguf_read.read(os.path.join(HF, "gguf-vocab", "ggml-vocab-gpt-2.gguf"))
            for key in ("model", "pre", "merges", "bos_token_id", "eos_token_id"):
                self.assertEqual(ours["tokenizer.ggml." + key], theirs["tokenizer.ggml." + key],
                                 key)
            n = len(theirs["tokenizer.ggml.tokens"])
            for key in ("tokens", "token_type"):
                self.assertEqual(ours["tokenizer.ggml." + key][:n],
                                 theirs["tokenizer.ggml." + key], key)
            self.assertEqual(set(ours["tokenizer.ggml.token_type"][n:]), {5})  # unused
            self.assertNotIn("tokenizer.ggml.scores", ours)

    def with_split(self, regex, d):
        """GPT-2's vocabulary with another family's split in front of ByteLevel."""
        j = json.loads(read(self.plain_json))
        j["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated",
             "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
             "use_regex": False}]}
        path = os.path.join(d, "split.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(j, f)
        return path

    def test_llama3_and_qwen2_splits_get_their_llama_cpp_names(self):
        # ... and read back from the GGUF, tokenize as the tokenizer.json did
        texts = [STRESS, read(os.path.join(SHARED, "data", "wikitext-2", "test.raw.txt"))[:30000]]
        for regex, name in ((LLAMA3_SPLIT, "llama-bpe"), (QWEN2_SPLIT, "qwen2")):
            with self.subTest(name=name), tempfile.TemporaryDirectory() as d:
                split = self.with_split(regex, d)
                gguf, p = self.export_gguf(split, d)
                self.assertEqual(p.returncode, 0, p.stderr)
                meta, _ = gguf_read.read(gguf)
                self.assertEqual(meta["tokenizer.ggml.pre"], name)
                self.assertEqual(meta["tokenizer.ggml.model"], "gpt2")
                self.assertEqual(qopt_tokenize(gguf, texts), qopt_tokenize(split, texts))
                p = subprocess.run([QOPT, "import", gguf, "-o", os.path.join(d, "m.mlir")],
                                   capture_output=True, text=True)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertNotIn("no tokenizer", p.stderr)
                self.assertTrue(os.path.exists(os.path.join(d, "m.tokenizer.bin")))
                if name == "qwen2":  # a pre-tokenizer qopt does not implement
                    with open(gguf, "rb") as f:
                        data = f.read()
                    value = struct.pack("<Q", 5) + b"qwen2"
                    self.assertEqual(data.count(value), 1)
                    bad = os.path.join(d, "bad.gguf")
                    with open(bad, "wb") as f:
                        f.write(data.replace(value, struct.pack("<Q", 5) + b"xwen2"))
                    p = subprocess.run([QOPT, "tokenize", bad, "-p", "hi"], capture_output=True,
                                       text=True)
                    self.assertEqual(p.returncode, 1)
                    self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
                    self.assertIn("pre-tokenizer 'xwen2' is not one qopt implements", p.stderr)

    def test_vocabulary_of_a_llama_cpp_gpt2_gguf(self):
        """GPT-2's vocabulary as llama.cpp's converter wrote it into a GGUF
        (tokenizer.ggml.model gpt2, pre gpt-2), read by qopt: llama.cpp's
        own test vectors, and GPT-2's encoder on whole text."""
        gguf = os.path.join(HF, "gguf-vocab", "ggml-vocab-gpt-2.gguf")
        texts, want = llama_cpp_vectors("ggml-vocab-gpt-2.gguf")
        self.assertEqual(qopt_tokenize(gguf, texts), want)
        dev = read(os.path.join(SHARED, "data", "tinystories", "dev.txt"))[:100000]
        self.assertEqual(qopt_tokenize(gguf, [dev])[0], self.gpt2.encode(dev))

    def test_byte_level_with_its_own_split_is_refused_for_gguf(self):
        with tempfile.TemporaryDirectory() as d:
            # Llama 3's split with one character changed has no llama.cpp name
            gguf, p = self.export_gguf(self.with_split(LLAMA3_SPLIT.replace("{1,3}", "{1,4}"), d),
                                       d)
            self.assertEqual(p.returncode, 1)
            self.assertIn("whose split llama.cpp knows by no name", p.stderr)
            self.assertEqual(len(p.stderr.strip().splitlines()), 1)
            self.assertFalse(os.path.exists(gguf))

    def test_gpt2_encoder_transcription(self):
        dev = read(os.path.join(SHARED, "data", "tinystories", "dev.txt"))[:100000]
        wiki = read(os.path.join(SHARED, "data", "wikitext-2", "test.raw.txt"))[:100000]
        texts = [dev, wiki, STRESS] + STRESS.split("\n")
        ours = qopt_tokenize(self.plain_json, texts)
        for text, got in zip(texts, ours):
            self.assertEqual(got, self.gpt2.encode(text), text[:40])

    def test_added_whitespace_tokens(self):
        # Phi-2's 38 whitespace-run tokens and <|endoftext|> are matched
        # before the regex runs
        texts = [STRESS, "a" + " " * 40 + "b\t\t\t\tc<|endoftext|>d", "x\n    y   z"]
        ours = qopt_tokenize(PHI2_JSON, texts)
        for text, got in zip(texts, ours):
            self.assertEqual(got, self.gpt2.encode(text, added=True), text[:40])
        self.assertIn(50256, ours[1])

    def test_unicode_normalizers(self):
        # Qwen2's tokenizer.json normalizes to NFC; the other forms are read
        # too. Python's unicodedata, then GPT-2's encoder, against qopt's
        # utf8proc-normalized encoding, on text each form changes.
        texts = [STRESS, "Cafe\u0301 A\u030a \u212b \u1100\u1161\u11a8 \ufb01ne \u2460 "
                 "\uff21\uff22\uff23 x\u00b2 \u00c5 \u1e9b\u0323 \u0958 \u2126",
                 "ｶﾀｶﾅ ﾊﾟﾝ ㍿ ℌ ǆ ﬃ", "e\u0301" * 40]
        for form in ("NFC", "NFD", "NFKC", "NFKD"):
            with self.subTest(form=form):
                j = json.loads(read(self.plain_json))
                j["normalizer"] = {"type": form}
                d = tempfile.mkdtemp(dir=self.tmp.name)
                path = os.path.join(d, "tokenizer.json")
                with open(path, "w", encoding="utf-8") as f:
                    json.dump(j, f)
                ours = qopt_tokenize(path, texts)
                for text, got in zip(texts, ours):
                    want = self.gpt2.encode(unicodedata.normalize(form, text))
                    self.assertEqual(got, want, text[:40])
                # the form changed something, or the test would prove nothing
                self.assertNotEqual(ours[1], self.gpt2.encode(texts[1]))


class Refusals(unittest.TestCase):
    def run_qopt(self, *args):
        return subprocess.run([QOPT, *args], capture_output=True, text=True)

    def broken(self, edit):
        j = json.loads(read(PHI2_JSON))
        edit(j)
        d = tempfile.mkdtemp()
        path = os.path.join(d, "tokenizer.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(j, f)
        r = self.run_qopt("tokenize", path, "-p", "hello")
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(r.stdout, "")
        return r.stderr.strip()

    def test_unknown_merge_token(self):
        def edit(j):
            j["model"]["merges"][7] = "Ġt qoptnotatoken"
        err = self.broken(edit)
        self.assertIn("'model.merges[7]' names 'qoptnotatoken', which is not a token", err)
        self.assertEqual(len(err.splitlines()), 1)

    def test_token_id_beyond_the_vocabulary(self):
        # found by fuzz_checkpoint: one id of 2^29 sized the vocabulary at 32 GiB
        def edit(j):
            j["model"]["vocab"]["Ġthe"] = 1 << 29
        err = self.broken(edit)
        self.assertIn("model.vocab['Ġthe'] = 536870912 is not a token id of its 50257 entries",
                      err)
        self.assertEqual(len(err.splitlines()), 1)

    def test_wrong_field_type(self):
        def edit(j):
            j["model"]["byte_fallback"] = "yes"
        self.assertIn("'model.byte_fallback' must be true or false, not a string",
                      self.broken(edit))

    def test_unsupported_model_and_component(self):
        def unigram(j):
            j["model"]["type"] = "Unigram"
        self.assertIn("model type 'Unigram' is not supported", self.broken(unigram))

        def bert(j):
            j["normalizer"] = {"type": "BertNormalizer"}
        self.assertIn("normalizer 'BertNormalizer' (normalizer) is not supported",
                      self.broken(bert))

    def test_not_json(self):
        d = tempfile.mkdtemp()
        path = os.path.join(d, "tokenizer.json")
        with open(path, "w") as f:
            f.write('{"model": {')
        r = self.run_qopt("tokenize", path, "-p", "x")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("not valid JSON", r.stderr)

    def test_sentencepiece_model_file_named(self):
        r = self.run_qopt("tokenize", LLAMA2_MODEL, "-p", "x")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("SentencePiece .model files are not read", r.stderr)


if __name__ == "__main__":
    unittest.main()
