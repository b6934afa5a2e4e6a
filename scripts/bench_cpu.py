#!/usr/bin/python3
"""CPU speed of built programs beside this machine's memory bandwidth.

  /usr/bin/python3 scripts/bench_cpu.py [--models stories260K,stories110M] [--threads 2]

For each model and scheme: qopt compile (RTN; W8A8 = SmoothQuant + dynamic
int8 activations, calibrated on TinyStories text; synthetic models use the
Llama 2 tokenizer, whose 32000-token vocabulary they share), qopt build,
then the program's --bench: prefill and decode tokens/s, and the effective
weight bandwidth of decode (weight bytes read per token x tokens/s) as a
fraction of the measured read bandwidth. Integer weight-only schemes are
built twice: with int8 activations (the default) and with
--act-int8=false (f32 activations), whose decode speed is printed beside.
Bandwidth is measured here: numpy sums of a 1 GiB buffer split over
--threads threads (best of 5). Synthetic checkpoints come from
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
    ap.add_argument("--prefill", type=int, default=64)
    ap.add_argument("--decode", type=int, default=32)
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "bench-cpu"))
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    bw = read_bandwidth(args.threads)
    print(f"measured read bandwidth ({args.threads} threads, numpy): {bw:.1f} GB/s",
          file=sys.stderr)
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
            subprocess.run([QOPT, "build", stem + ".mlir", "-o", stem], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            t2 = time.perf_counter()
            f = bench(stem, args)
            f32_decode = None
            if scheme.startswith("w"):  # integer weight-only: f32 activations beside
                subprocess.run([QOPT, "build", stem + ".mlir", "-o", stem + "-f32act",
                                "--act-int8=false"], check=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
                f32_decode = float(bench(stem + "-f32act", args)["decode_tok_s"])
            gbps = float(f["decode_weight_GBps"])
            rows.append((name, scheme, float(f["weight_bytes"]) / 2**20,
                         float(f["prefill_tok_s"]), float(f["decode_tok_s"]), gbps,
                         100 * gbps / bw, f["isa"], t1 - t0, t2 - t1, f32_decode))
            print(f"  {name} {scheme}: prefill {float(f['prefill_tok_s']):.1f} tok/s, "
                  f"decode {float(f['decode_tok_s']):.1f} tok/s, {gbps:.1f} GB/s "
                  f"(runtime read bandwidth {f.get('read_GBps', '?')} GB/s), "
                  f"f32 activations {f32_decode}", file=sys.stderr, flush=True)
            for suffix in (".safetensors", ".qrtw", "-f32act.qrtw"):
                if big and os.path.exists(stem + suffix):
                    os.remove(stem + suffix)  # gigabytes each
    print(f"\nMeasured read bandwidth: {bw:.1f} GB/s ({args.threads} threads). "
          f"Prefill {args.prefill} tokens, decode {args.decode} tokens, "
          f"{args.threads} threads.\n")
    print("| model | scheme | weights MiB | prefill tok/s | decode tok/s | decode GB/s | "
          "% of bandwidth | decode tok/s, f32 activations | compile s | build s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        f32 = f"{r[10]:.1f}" if r[10] is not None else "-"
        print(f"| {r[0]} | {r[1]} | {r[2]:.1f} | {r[3]:.1f} | {r[4]:.1f} | {r[5]:.2f} | "
              f"{r[6]:.0f}% | {f32} | {r[8]:.1f} | {r[9]:.1f} |")
    print(f"\nkernels: {rows[0][7] if rows else '-'}")


if __name__ == "__main__":
    main()
