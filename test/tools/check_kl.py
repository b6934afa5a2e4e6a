"""check_kl.py MODEL.npy BASE.npy ROWS EVAL_OUTPUT: KL(base || model) and
top-1 agreement over the first ROWS rows, computed here in float64 numpy,
must equal what `qopt eval --base` printed (to its printed precision)."""
import re
import sys

import numpy as np

model, base = np.load(sys.argv[1]).astype(np.float64), np.load(sys.argv[2]).astype(np.float64)
rows = int(sys.argv[3])
text = open(sys.argv[4]).read()


def log_softmax(x):
    x = x - x.max(axis=1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=1, keepdims=True))


lm, lb = log_softmax(model[:rows]), log_softmax(base[:rows])
kl = (np.exp(lb) * (lb - lm)).sum(axis=1)
agree = (model[:rows].argmax(axis=1) == base[:rows].argmax(axis=1)).mean()
m = re.search(r"KL\(base \|\| model\): mean ([0-9.]+), max ([0-9.]+)", text)
a = re.search(r"top-1 agreement: ([0-9.]+)%", text)
got_mean, got_max, got_agree = float(m.group(1)), float(m.group(2)), float(a.group(1)) / 100
print(f"numpy: mean {kl.mean():.6f} max {kl.max():.6f} agreement {agree:.4f}; "
      f"qopt: {got_mean:.6f} {got_max:.6f} {got_agree:.4f}")
ok = (abs(kl.mean() - got_mean) <= 2e-6 + 1e-4 * kl.mean() and
      abs(kl.max() - got_max) <= 2e-6 + 1e-4 * kl.max() and abs(agree - got_agree) < 1e-4)
sys.exit(0 if ok else "KL or agreement differs from numpy's")
