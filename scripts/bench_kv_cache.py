#!/usr/bin/python3
"""What the KV cache's element type costs in accuracy and saves in memory.

  /usr/bin/python3 scripts/bench_kv_cache.py [--work build/bench-kv] [--threads 2]

stories260K (float weights, and AWQ+GPTQ w4 g32 as the demo makes it) is
compiled with `--kv-cache f32`, `f16` and `i8`, built into CPU programs, and
each program's `--ppl` runs on the demo's evaluation text (the last 80% of
TinyStories dev.txt, scripts/bench_quant.py's split). Printed: perplexity
and its change from the f32 cache, and the cache's bytes per token of
context (keys and values of every layer, scales included) for stories260K
and for the TinyLlama-1.1B and 7B shapes.
"""
import argparse
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.environ.get("QOPT_SHARED", os.path.join(ROOT, "..", "shared"))
QOPT = os.environ.get("QOPT", os.path.join(ROOT, "build", "bin", "qopt"))
MODEL = os.path.join(SHARED, "models", "stories260K", "stories260K.bin")
TYPES = ("f32", "f16", "i8")
# layers, kv_heads * head_dim, head_dim
SHAPES = {"stories260K": (5, 4 * 8, 8), "tinyllama-1.1B": (22, 4 * 64, 64),
          "7B": (32, 32 * 128, 128)}


def run(*cmd):
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"error: {' '.join(map(str, cmd))} failed:\n{proc.stderr[-2000:]}")
    return proc


def bytes_per_token(shape, kv):
    layers, width, head_dim = shape
    element = {"f32": 4, "f16": 2, "i8": 1}[kv]
    scales = 4 * width // head_dim if kv == "i8" else 0  # one f32 per KV head
    return 2 * layers * (width * element + scales)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "bench-kv"))
    ap.add_argument("--threads", default="2")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    run("/usr/bin/python3", os.path.join(HERE, "bench_quant.py"), "--split-only",
        "--work", args.work)
    evalset, calib = os.path.join(args.work, "eval.txt"), os.path.join(args.work, "calib.txt")
    rows = []
    for weights, recipe in (("float", ["--recipe", "fp32"]),
                            ("AWQ+GPTQ w4 g32", ["--recipe", "awq-gptq", "--act-order",
                                                 "--calib", calib])):
        base = None
        for kv in TYPES:
            stem = os.path.join(args.work, f"{weights.split()[0].lower()}-{kv}")
            print(f"{weights}, {kv} cache: compile, build, --ppl ...", file=sys.stderr, flush=True)
            run(QOPT, "compile", MODEL, "-o", stem + ".mlir", *recipe, "--kv-cache", kv,
                "--quiet")
            run(QOPT, "build", stem + ".mlir", "-o", stem)
            out = run(stem, "--ppl", evalset, "--threads", args.threads).stdout
            ppl = float(re.search(r"perplexity ([0-9.]+)", out).group(1))
            base = base or ppl
            rows.append((weights, kv, ppl, 100 * (ppl - base) / base))
    print("\n| weights | KV cache | perplexity | change from f32 cache |")
    print("|---|---|---:|---:|")
    for weights, kv, ppl, change in rows:
        print(f"| {weights} | {kv} | {ppl:.4f} | {change:+.3f}% |")
    print("\n| model shape | " + " | ".join(f"{kv} bytes / token" for kv in TYPES) + " |")
    print("|---|" + "---:|" * len(TYPES))
    for name, shape in SHAPES.items():
        print(f"| {name} | " + " | ".join(str(bytes_per_token(shape, kv)) for kv in TYPES) + " |")


if __name__ == "__main__":
    main()
