"""Recomputes `qopt eval ... sample.txt --ctx 64` with the numpy reference.

usage: check_ppl.py QOPT_EVAL_OUTPUT SHARED_DIR
Checks the token count, window count and mean NLL (to 1e-4 relative).
"""
import math
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))
from qopt_ref import llama, tokenizer  # noqa: E402

out, shared = sys.argv[1], sys.argv[2]
text = open(out).read()
tokens = int(re.search(r"tokens:\s+(\d+)", text).group(1))
windows = int(re.search(r"windows:\s+(\d+)", text).group(1))
nll = float(re.search(r"mean NLL:\s+([0-9.]+)", text).group(1))

model = os.path.join(shared, "models", "stories260K")
cfg, w = llama.read_llama2c(os.path.join(model, "stories260K.bin"))
tok = tokenizer.Tokenizer(os.path.join(model, "tok512.bin"))
with open(os.path.join(shared, "data", "tinystories", "sample.txt")) as f:
    lines = f.read().split("\n")
docs, cur = [], []
for line in lines:
    if line.strip():
        cur.append(line.rstrip("\r"))
    elif cur:
        docs.append("\n".join(cur))
        cur = []
if cur:
    docs.append("\n".join(cur))
stream = [t for d in docs for t in tok.encode(d, bos=True)]
ctx = 64
n = len(stream) // ctx
total = 0.0
for i in range(n):
    win = stream[i * ctx:(i + 1) * ctx]
    logits = llama.forward(cfg, w, win)
    logits = logits - logits.max(axis=1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    total -= sum(logp[j, win[j + 1]] for j in range(ctx - 1))
ref = total / (n * (ctx - 1))
errors = []
if tokens != len(stream):
    errors.append(f"tokens {tokens} != reference {len(stream)}")
if windows != n:
    errors.append(f"windows {windows} != reference {n}")
if abs(nll - ref) > 1e-4 * ref:
    errors.append(f"mean NLL {nll} != reference {ref}")
if errors:
    sys.exit("; ".join(errors))
print(f"ok: {tokens} tokens, {windows} windows, NLL {nll} vs reference {ref:.6f}, PPL {math.exp(ref):.4f}")
