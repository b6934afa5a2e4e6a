"""C++ quantization math against the numpy transcriptions (qopt_ref.gptq).

  QOPT_MATH=build/bin/qopt-math /usr/bin/python3 python/tests/test_quant_math.py
"""
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from qopt_ref import gptq as ref  # noqa: E402
from qopt_ref.hf_export import write_safetensors  # noqa: E402

QOPT_MATH = os.environ.get("QOPT_MATH", "build/bin/qopt-math")


def read_safetensors(path):
    import json
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        out[name] = np.frombuffer(data[a:b], np.float32).reshape(e["shape"])
    return out


def problem(rows, cols, seed):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((rows, cols)).astype(np.float32)
    x = rng.standard_normal((512, cols)).astype(np.float32)
    x[:, ::7] *= 5  # uneven channels make the order matter
    x[:, 1:] += 0.5 * x[:, :-1]
    h = (2.0 * x.T.astype(np.float64) @ x / x.shape[0]).astype(np.float32)
    return w, h, x


def run_cpp(w, h, args):
    with tempfile.TemporaryDirectory() as d:
        inp, out = os.path.join(d, "in.safetensors"), os.path.join(d, "out.safetensors")
        write_safetensors(inp, [("w", w), ("h", h)], "F32")
        subprocess.run([QOPT_MATH, "gptq", inp, out] + args, check=True)
        t = read_safetensors(out)
        return t["q"], t["rtn"]


def objective(w, q, x):
    return float(np.sum(((w - q).astype(np.float64) @ x.T.astype(np.float64)) ** 2))


class GPTQAgainstNumpy(unittest.TestCase):
    CASES = [
        dict(bits=4, group=0, sym=True),
        dict(bits=4, group=32, sym=True),
        dict(bits=3, group=32, sym=False),
        dict(bits=4, group=32, sym=True, act_order=True),
        dict(bits=4, group=32, sym=False, act_order=True, static_groups=True),
    ]

    def test_cases(self):
        rows, cols = 16, 80  # 80 = 2 x 32 + 16: the last group absorbs 16
        w, h, x = problem(rows, cols, 0)
        for case in self.CASES:
            with self.subTest(**case):
                args = ["--bits", str(case["bits"]), "--group-size", str(case["group"]),
                        "--block-size", "32"]
                if not case["sym"]:
                    args.append("--asym")
                if case.get("act_order"):
                    args.append("--act-order")
                if case.get("static_groups"):
                    args.append("--static-groups")
                q_cpp, rtn_cpp = run_cpp(w, h, args)
                q_np = ref.gptq(w, h, case["bits"], case["group"], case["sym"],
                                case.get("act_order", False), case.get("static_groups", False),
                                blocksize=32)
                rtn_np = ref.rtn(w, case["bits"], case["group"], case["sym"])
                np.testing.assert_array_equal(rtn_cpp, rtn_np)
                # Same algorithm, different float order: nearly all codes agree.
                same = np.mean(np.isclose(q_cpp, q_np, rtol=0, atol=1e-6))
                self.assertGreater(same, 0.98, f"only {same:.3f} of the weights agree")
                e_cpp, e_np, e_rtn = (objective(w, q_cpp, x), objective(w, q_np, x),
                                      objective(w, rtn_np, x))
                self.assertLess(abs(e_cpp - e_np) / e_np, 0.02)
                self.assertLess(e_cpp, e_rtn)
                print(f"{case}: |WX-QX|^2 GPTQ {e_cpp:.1f} (numpy {e_np:.1f}), RTN {e_rtn:.1f}, "
                      f"{100 * same:.1f}% identical")


class NF4Levels(unittest.TestCase):
    def test_table_matches_the_qlora_construction(self):
        out = subprocess.run([QOPT_MATH, "nf4-levels"], check=True, capture_output=True,
                             text=True).stdout.split()
        np.testing.assert_allclose(np.array(out, np.float64), ref.nf4_levels(), atol=2e-6)


if __name__ == "__main__":
    unittest.main(verbosity=1)
