"""Python bindings (ctypes + numpy) for programs built by `qopt build --emit shared`.

    from qopt_runtime import Model
    m = Model("build/stories/libstories.so")        # weights: libstories.so.qrtw
    logits = m.logits(m.encode("Once upon a time"))  # [n, vocab] float32
    text = m.generate("Once upon a time", steps=100, temperature=0)
    ppl = m.perplexity("dev.txt")

The library carries the compiled model; its weights file sits beside it.
"""
import ctypes
import os

import numpy as np

__all__ = ["Model", "QrtError"]


class QrtError(RuntimeError):
    """An error reported by the runtime (one line, as the C API gives it)."""


_ERR_LEN = 512


def _bind(lib):
    c_i64, c_ptr = ctypes.c_int64, ctypes.c_void_p
    sig = {
        "qrt_load": (c_ptr, [ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t]),
        "qrt_load_batched": (c_ptr, [ctypes.c_char_p, ctypes.c_int, c_i64, c_i64,
                                     ctypes.c_char_p, ctypes.c_size_t]),
        "qrt_sequences": (c_i64, [c_ptr]),
        "qrt_forward_seq": (ctypes.c_int, [c_ptr, c_i64, c_ptr, c_i64, c_i64, c_ptr, ctypes.c_int,
                                           ctypes.c_char_p, ctypes.c_size_t]),
        "qrt_decode_batch": (ctypes.c_int, [c_ptr, c_ptr, c_ptr, c_ptr, c_i64, c_ptr,
                                            ctypes.c_char_p, ctypes.c_size_t]),
        "qrt_free": (None, [c_ptr]),
        "qrt_vocab_size": (c_i64, [c_ptr]),
        "qrt_max_seq_len": (c_i64, [c_ptr]),
        "qrt_dim": (c_i64, [c_ptr]),
        "qrt_weight_bytes": (ctypes.c_uint64, [c_ptr]),
        "qrt_decode_bytes": (ctypes.c_uint64, [c_ptr]),
        "qrt_isa": (ctypes.c_char_p, [c_ptr]),
        "qrt_forward_last": (ctypes.c_int, [c_ptr, c_ptr, c_i64, c_i64, c_ptr, ctypes.c_char_p,
                                            ctypes.c_size_t]),
        "qrt_forward": (ctypes.c_int, [c_ptr, c_ptr, c_i64, c_i64, c_ptr, ctypes.c_char_p,
                                       ctypes.c_size_t]),
        "qrt_encode": (c_i64, [c_ptr, ctypes.c_char_p, ctypes.c_int, ctypes.c_int, c_ptr, c_i64]),
        "qrt_decode": (ctypes.c_char_p, [c_ptr, ctypes.c_int32, ctypes.c_int32]),
        "qrt_is_eos": (ctypes.c_int, [c_ptr, ctypes.c_int32]),
        "qrt_bos": (ctypes.c_int32, [c_ptr]),
        "qrt_chat_template": (ctypes.c_char_p, [c_ptr]),
        "qrt_chat_prompt": (ctypes.c_void_p, [c_ptr, ctypes.c_void_p, ctypes.c_size_t,
                                              ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t]),
        "qrt_sample": (ctypes.c_int32, [c_ptr, c_i64, ctypes.c_float, ctypes.c_float,
                                        ctypes.POINTER(ctypes.c_uint64)]),
        "qrt_perplexity": (ctypes.c_int, [c_ptr, ctypes.c_char_p, c_i64, c_i64,
                                          ctypes.POINTER(ctypes.c_double),
                                          ctypes.POINTER(c_i64), ctypes.c_char_p,
                                          ctypes.c_size_t]),
    }
    for name, (res, args) in sig.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args


class Model:
    """A compiled model loaded through the runtime's C API (runtime/include/qrt.h)."""

    def __init__(self, library, weights=None, threads=0, sequences=1, positions=0):
        if not os.path.exists(library):
            raise QrtError(f"{library}: no such library (build it with qopt build --emit shared)")
        self._lib = ctypes.CDLL(os.path.abspath(library))
        _bind(self._lib)
        weights = weights or library + ".qrtw"
        err = ctypes.create_string_buffer(_ERR_LEN)
        self._m = self._lib.qrt_load_batched(weights.encode(), int(threads), int(sequences),
                                             int(positions), err, _ERR_LEN)
        if not self._m:
            raise QrtError(err.value.decode())
        self.vocab_size = self._lib.qrt_vocab_size(self._m)
        self.max_seq_len = self._lib.qrt_max_seq_len(self._m)
        self.dim = self._lib.qrt_dim(self._m)
        self.weight_bytes = self._lib.qrt_weight_bytes(self._m)
        self.decode_bytes = self._lib.qrt_decode_bytes(self._m)
        self.isa = self._lib.qrt_isa(self._m).decode()

    def close(self):
        if getattr(self, "_m", None):
            self._lib.qrt_free(self._m)
            self._m = None

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def encode(self, text, bos=True, eos=False):
        cap = len(text.encode()) + 3
        out = np.zeros(cap, np.int32)
        n = self._lib.qrt_encode(self._m, text.encode(), int(bos), int(eos),
                                 out.ctypes.data_as(ctypes.c_void_p), cap)
        if n < 0:
            raise RuntimeError("this program carries no tokenizer "
                               "(compile the model with --tokenizer FILE)")
        return out[:n]

    def is_eos(self, token):
        """Whether generation stops at `token` (any of the model's EOS ids)."""
        return bool(self._lib.qrt_is_eos(self._m, int(token)))

    @property
    def bos(self):
        """The BOS a text starts with, or -1."""
        return self._lib.qrt_bos(self._m)

    @property
    def chat_template(self):
        return self._lib.qrt_chat_template(self._m).decode("utf-8")

    def chat_prompt(self, messages, add_generation_prompt=True):
        """The conversation ([{"role": ..., "content": ...}]) rendered with the
        model's chat template, as the program's --chat feeds it."""
        class Turn(ctypes.Structure):
            _fields_ = [("role", ctypes.c_char_p), ("content", ctypes.c_char_p)]
        turns = (Turn * max(1, len(messages)))()
        for i, m in enumerate(messages):
            turns[i].role = m["role"].encode()
            turns[i].content = m["content"].encode()
        err = ctypes.create_string_buffer(_ERR_LEN)
        p = self._lib.qrt_chat_prompt(self._m, ctypes.cast(turns, ctypes.c_void_p),
                                      len(messages), int(add_generation_prompt), err, _ERR_LEN)
        if not p:
            raise QrtError(err.value.decode())
        text = ctypes.string_at(p).decode("utf-8")
        ctypes.CDLL(None).free(ctypes.c_void_p(p))
        return text

    def decode(self, prev, token):
        return self._lib.qrt_decode(self._m, int(prev), int(token)).decode("utf-8", "replace")

    def logits(self, tokens, pos=0, last_only=False):
        """Runs tokens at positions pos.. (the KV cache must hold 0..pos-1) -> [n, vocab];
        with last_only, [1, vocab] for the last token (the classifier runs once)."""
        tokens = np.ascontiguousarray(tokens, dtype=np.int32)
        out = np.empty((1 if last_only else len(tokens), self.vocab_size), np.float32)
        err = ctypes.create_string_buffer(_ERR_LEN)
        run = self._lib.qrt_forward_last if last_only else self._lib.qrt_forward
        rc = run(self._m, tokens.ctypes.data_as(ctypes.c_void_p), len(tokens), int(pos),
                 out.ctypes.data_as(ctypes.c_void_p), err, _ERR_LEN)
        if rc != 0:
            raise QrtError(err.value.decode())
        return out

    def forward_seq(self, seq, tokens, pos=0, last_only=False):
        """logits() on sequence `seq`'s KV cache (a model opened with sequences > 1)."""
        tokens = np.ascontiguousarray(tokens, dtype=np.int32)
        out = np.empty((1 if last_only else len(tokens), self.vocab_size), np.float32)
        err = ctypes.create_string_buffer(_ERR_LEN)
        rc = self._lib.qrt_forward_seq(self._m, int(seq), tokens.ctypes.data_as(ctypes.c_void_p),
                                       len(tokens), int(pos), out.ctypes.data_as(ctypes.c_void_p),
                                       int(last_only), err, _ERR_LEN)
        if rc != 0:
            raise QrtError(err.value.decode())
        return out

    def decode_batch(self, tokens, seqs, positions):
        """One decode step of several sequences: row i is tokens[i] at
        positions[i] of sequence seqs[i] -> [rows, vocab]."""
        tokens = np.ascontiguousarray(tokens, dtype=np.int32)
        seqs = np.ascontiguousarray(seqs, dtype=np.int64)
        positions = np.ascontiguousarray(positions, dtype=np.int64)
        out = np.empty((len(tokens), self.vocab_size), np.float32)
        err = ctypes.create_string_buffer(_ERR_LEN)
        rc = self._lib.qrt_decode_batch(self._m, tokens.ctypes.data_as(ctypes.c_void_p),
                                        seqs.ctypes.data_as(ctypes.c_void_p),
                                        positions.ctypes.data_as(ctypes.c_void_p), len(tokens),
                                        out.ctypes.data_as(ctypes.c_void_p), err, _ERR_LEN)
        if rc != 0:
            raise QrtError(err.value.decode())
        return out

    def generate(self, prompt="", steps=256, temperature=1.0, top_p=0.9, seed=42):
        """The prompt and the text after it, as the built program's -p/-n/-t
        (stops at an EOS token)."""
        if steps > self.max_seq_len:
            raise QrtError(f"steps {steps} is beyond the model's context of {self.max_seq_len}")
        tokens = self.encode(prompt)
        if len(tokens) >= steps:
            raise QrtError(f"the prompt has {len(tokens)} tokens; steps must be larger")
        rng = ctypes.c_uint64(seed or 1)
        if len(tokens) == 0:
            raise QrtError("the prompt is empty and this tokenizer adds no BOS to start from")
        first = 1 if tokens[0] == self.bos else 0
        pieces = [self.decode(tokens[i - 1] if i else -1, tokens[i])
                  for i in range(first, len(tokens))]
        row = self.logits(tokens, last_only=True)[0]
        prev = int(tokens[-1])
        for pos in range(len(tokens) - 1, steps):
            if pos > len(tokens) - 1:
                row = self.logits([prev], pos)[0]
            row = np.ascontiguousarray(row)
            nxt = self._lib.qrt_sample(row.ctypes.data_as(ctypes.c_void_p), self.vocab_size,
                                       float(temperature), float(top_p), ctypes.byref(rng))
            if self.is_eos(nxt):
                break
            pieces.append(self.decode(prev, nxt))
            prev = nxt
        return "".join(pieces)

    def perplexity(self, path, ctx=256, max_windows=0):
        ppl, n = ctypes.c_double(), ctypes.c_int64()
        err = ctypes.create_string_buffer(_ERR_LEN)
        rc = self._lib.qrt_perplexity(self._m, path.encode(), ctx, max_windows,
                                      ctypes.byref(ppl), ctypes.byref(n), err, _ERR_LEN)
        if rc != 0:
            raise QrtError(err.value.decode())
        return ppl.value
