#!/usr/bin/python3
"""CPU speed of built programs beside this machine's memory bandwidth.

  /usr/bin/python3 scripts/bench_cpu.py [--models stories260K,stories110M] [--threads 2]

For each model and scheme: qopt compile (RTN; W8A8 = SmoothQuant + dynamic
int8 activations, calibrated on TinyStories text; synthetic models use the
Llama 2 tokenizer, whose 32000-token vocabulary they share), qopt build,
then the program's --bench: prefill tokens/s (the prompt as generation
runs it: the classifier for its last token only), decode tokens/s, and the
effective weight bandwidth of decode (weight bytes one step reads x
tokens/s) as a fraction of the machine's read bandwidth.

The yardstick is measured by the program itself after each quarter of
decode (--bench: a vectorized sum over 512 MiB on the same threads), and the
fraction is the median of the quarters' own ratios: on the shared VM this
was written on, read bandwidth drifts between about 32 and 54 GB/s from one
minute to the next, so a figure taken at another time is no yardstick. A
numpy measurement at the start and end is printed as a cross-check.

With --compare (default on), integer weight-only schemes are also built with
--act-int8=false (f32 activations) and every scheme with --fuse=false, and
those decode speeds are printed beside. Synthetic checkpoints come from
scripts/synth_model.py.
"""
import argparse
import os
import re
import subprocess
import sys
import threading
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
QOPT = os.path.join(ROOT, "build", "bin", "qopt")

SCHEMES = [
    ("fp32", ["--recipe", "fp32"]),
    ("w8 per-channel", ["--recipe", "rtn", "--bits", "8", "--group-size", "0"]),
    ("w4 g32", ["--recipe", "rtn", "--bits", "4", "--group-size", "32"]),
    ("w4 g128", ["--recipe", "rtn", "--bits", "4", "--group-size", "128"]),
    ("W8A8 dynamic", ["--recipe", "w8a8", "--act-mode", "dynamic"]),
]


def read_bandwidth(threads, gib=1.0):
    n = int(gib * (1 << 30) // 4)
    buf = np.ones(n, np.float32)
    parts = np.array_split(buf, threads)
    best = 0.0
    for _ in range(5):
        ts = [threading.Thread(target=np.add.reduce, args=(p,)) for p in parts]
        t0 = time.perf_counter()
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        best = max(best, buf.nbytes / (time.perf_counter() - t0) / 1e9)
    return best


LLAMA2_TOKENIZER = os.path.join(SHARED, "models", "llama2-tokenizer", "tokenizer.bin")


def model_path(name, work):
    """The checkpoint and the tokenizer option its compile needs."""
    if name == "stories260K":
        return os.path.join(SHARED, "models", "stories260K", "stories260K.bin"), []
    path = os.path.join(work, name + ".bin")
    if not os.path.exists(path):
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "synth_model.py"),
                        "--shape", name, "-o", path], check=True)
    return path, ["--tokenizer", LLAMA2_TOKENIZER]


def bench(program, args, extra=()):
    out = subprocess.run([program, "--bench", "--threads", str(args.threads),
                          "--prefill", str(args.prefill), "--decode", str(args.decode),
                          *extra], check=True, capture_output=True, text=True).stdout
    return dict(re.findall(r"(\w+)=(\S+)", out))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="stories260K,stories110M,tinyllama-1.1B")
    ap.add_argument("--schemes", default=",".join(name for name, _ in SCHEMES),
                    help="comma-separated subset of: " + ", ".join(n for n, _ in SCHEMES))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prefill", type=int, default=128)
    ap.add_argument("--decode", type=int, default=64)
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "bench-cpu"))
    ap.add_argument("--compare", action=argparse.BooleanOptionalAction, default=True,
                    help="also build f32-activation and unfused variants")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    bw = read_bandwidth(args.threads)
    print(f"read bandwidth ({args.threads} threads, numpy): {bw:.1f} GB/s", file=sys.stderr)
    calib = os.path.join(args.work, "calib.txt")
    with open(os.path.join(SHARED, "data", "tinystories", "dev.txt")) as f, \
            open(calib, "w") as g:
        g.write(f.read()[:200000])
    rows = []
    for name in args.models.split(","):
        path, tokenizer = model_path(name, args.work)
        big = name.startswith("tinyllama")
        for scheme, opts in SCHEMES:
            if scheme not in args.schemes.split(","):
                continue
            stem = os.path.join(args.work, f"{name}-{scheme.replace(' ', '_')}")
            extra = []
            if "w8a8" in opts:  # calibration runs in the interpreter: keep it short
                extra = ["--calib", calib, "--calib-samples", "4" if big else "32",
                         "--calib-seqlen", "64" if big else "256", *tokenizer]
            t0 = time.perf_counter()
            subprocess.run([QOPT, "compile", path, "-o", stem + ".mlir", *opts, *extra],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            t1 = time.perf_counter()
            build(stem, stem)
            t2 = time.perf_counter()
            f = bench(stem, args)
            variants = {}
            if args.compare:
                if scheme.startswith("w"):  # integer weight-only: f32 activations
                    variants["f32act"] = ["--act-int8=false"]
                variants["unfused"] = ["--fuse=false"]
            speeds = {}
            for suffix, flags in variants.items():
                build(stem, stem + "-" + suffix, *flags)
                speeds[suffix] = float(bench(stem + "-" + suffix, args)["decode_tok_s"])
                remove(stem + "-" + suffix, big)
            row = {"model": name, "scheme": scheme, "f": f, "compile": t1 - t0,
                   "build": t2 - t1, **speeds}
            rows.append(row)
            print(f"  {name} {scheme}: prefill {float(f['prefill_tok_s']):.1f} tok/s, "
                  f"decode {float(f['decode_tok_s']):.1f} tok/s, "
                  f"{float(f['decode_weight_GBps']):.1f} GB/s of {f['read_GBps']} GB/s read "
                  f"({f['decode_pct_of_read']}%); {speeds}", file=sys.stderr, flush=True)
            remove(stem, big)
    bw_end = read_bandwidth(args.threads)
    print(f"\nRead bandwidth by numpy ({args.threads} threads, 1 GiB): {bw:.1f} GB/s at the "
          f"start, {bw_end:.1f} GB/s at the end. Prefill {args.prefill} tokens, decode "
          f"{args.decode} tokens, {args.threads} threads; % of read bandwidth is the median "
          "over the decode quarters of each quarter's GB/s over the read bandwidth measured "
          "right after it (min-max of those measurements shown).\n")
    print("| model | scheme | weights MiB | read per token MiB | prefill tok/s | decode tok/s | "
          "decode GB/s | read GB/s (min-max) | % of read | decode tok/s, f32 act | "
          "decode tok/s, unfused | compile s | build s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        f = r["f"]
        opt = lambda k: f"{r[k]:.1f}" if k in r else "-"  # noqa: E731
        print(f"| {r['model']} | {r['scheme']} | {float(f['weight_bytes']) / 2**20:.1f} | "
              f"{float(f['decode_bytes']) / 2**20:.1f} | {float(f['prefill_tok_s']):.1f} | "
              f"{float(f['decode_tok_s']):.1f} | {float(f['decode_weight_GBps']):.1f} | "
              f"{float(f['read_GBps']):.1f} ({float(f['read_GBps_min']):.0f}-"
              f"{float(f['read_GBps_max']):.0f}) | {f['decode_pct_of_read']}% | "
              f"{opt('f32act')} | {opt('unfused')} | {r['compile']:.1f} | {r['build']:.1f} |")
    print(f"\nkernels: {rows[0]['f']['isa'] if rows else '-'}")


def build(mlir_stem, out, *flags):
    subprocess.run([QOPT, "build", mlir_stem + ".mlir", "-o", out, *flags], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def remove(stem, big):
    """The 1.1B files are gigabytes each: drop them once measured."""
    for suffix in (".safetensors", ".qrtw"):
        if big and os.path.exists(stem + suffix):
            os.remove(stem + suffix)


if __name__ == "__main__":
    main()
