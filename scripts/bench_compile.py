#!/usr/bin/python3
"""Wall time and peak memory of qopt compile's data-driven recipes at real scale.

  /usr/bin/python3 scripts/bench_compile.py [--shape 1.1b|7b] [--recipes gptq,awq,...]
                                            [--samples 128] [--seqlen 256]

On a synthetic checkpoint of a real model's shape (scripts/synth_model.py
--stream: Hugging Face bf16, the Llama 2 tokenizer; 1.1b = TinyLlama's
shape, 7b = Llama 2 7B's), runs `qopt compile` of each recipe with
SAMPLES x SEQLEN calibration tokens of TinyStories text and prints its wall
time, the peak resident memory the report states, and the calibration
forward's tokens/s (the report's per-pass calibration clock). Beside it, the
fp32 program built from the same checkpoint prefills SEQLEN tokens (its
--bench), the speed a calibration forward is measured against: both run the
model over a window of SEQLEN tokens, the classifier excepted.

Recipes (compile options):
  gptq       --recipe gptq --act-order
  awq        --recipe awq
  awq-gptq   --recipe awq-gptq --act-order
  w8a8       --recipe w8a8 --alpha-search
  mixed      --recipe mixed --target-bpw 4.5

The synthetic weights are random, so the figures are of time and memory,
not accuracy (scripts/bench_quant.py measures that on a trained model).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")

SHAPES = {"1.1b": "tinyllama-1.1B", "7b": "llama2-7B"}
RECIPES = {
    "gptq": ["--recipe", "gptq", "--act-order"],
    "awq": ["--recipe", "awq"],
    "awq-gptq": ["--recipe", "awq-gptq", "--act-order"],
    "w8a8": ["--recipe", "w8a8", "--alpha-search"],
    "mixed": ["--recipe", "mixed", "--target-bpw", "4.5"],
}


def ensure_model(shape, work):
    path = os.path.join(work, SHAPES[shape] + "-hf")
    if not os.path.exists(os.path.join(path, "config.json")):
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "synth_model.py"),
                        "--shape", SHAPES[shape], "--format", "hf", "--dtype", "bf16",
                        "--stream", "--untied", "--shards", "2",
                        "--tokenizer", os.path.join(SHARED, "hf", "llama2"), "-o", path],
                       check=True)
    return path


def run_compile(qopt, model, recipe, args):
    stem = os.path.join(args.work, f"{SHAPES[args.shape]}-{recipe}")
    cmd = [qopt, "compile", model, "-o", stem + ".mlir", *RECIPES[recipe],
           "--calib", args.calib, "--calib-samples", str(args.samples),
           "--calib-seqlen", str(args.seqlen)]
    print("$ " + " ".join(cmd), file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)  # progress stays on stderr
    wall = time.perf_counter() - t0
    with open(stem + ".report.json") as f:
        report = json.load(f)
    tokens = sum(p.get("calibration_forward", {}).get("tokens", 0) for p in report["passes"])
    seconds = sum(p.get("calibration_forward", {}).get("seconds", 0) for p in report["passes"])
    for suffix in (".safetensors", ".mlir"):  # gigabytes: measured, not kept
        if os.path.exists(stem + suffix):
            os.remove(stem + suffix)
    return {"recipe": recipe, "wall": wall, "rss": report["peak_rss_bytes"],
            "calib_tokens": tokens, "calib_seconds": seconds,
            "passes": [(p["pass"], p["seconds"]) for p in report["passes"]]}


def fp32_prefill(qopt, model, args):
    """Prefill tok/s of the fp32 program over SEQLEN tokens (its --bench)."""
    stem = os.path.join(args.work, f"{SHAPES[args.shape]}-fp32")
    subprocess.run([qopt, "compile", model, "-o", stem + ".mlir", "--recipe", "fp32", "--quiet"],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run([qopt, "build", stem + ".mlir", "-o", stem], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = subprocess.run([stem, "--bench", "--threads", str(args.threads), "--prefill",
                          str(args.seqlen), "--decode", "4"],
                         check=True, capture_output=True, text=True).stdout
    fields = dict(re.findall(r"(\w+)=(\S+)", out))
    for suffix in (".safetensors", ".mlir", ".qrtw", ""):
        if os.path.exists(stem + suffix):
            os.remove(stem + suffix)
    return float(fields["prefill_tok_s"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qopt", default=os.path.join(ROOT, "build", "bin", "qopt"))
    ap.add_argument("--shape", choices=sorted(SHAPES), default="1.1b")
    ap.add_argument("--recipes", default=",".join(RECIPES),
                    help="comma-separated subset of: " + ", ".join(RECIPES))
    ap.add_argument("--samples", type=int, default=128)
    ap.add_argument("--seqlen", type=int, default=256)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--calib", default=os.path.join(SHARED, "data", "tinystories", "dev.txt"))
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "bench-compile"))
    ap.add_argument("--no-prefill", action="store_true",
                    help="skip building the fp32 program (its weights are 4x the bf16 file)")
    args = ap.parse_args()
    recipes = args.recipes.split(",")
    for r in recipes:
        if r not in RECIPES:
            ap.error(f"unknown recipe '{r}' (known: {', '.join(RECIPES)})")
    os.makedirs(args.work, exist_ok=True)
    model = ensure_model(args.shape, args.work)
    prefill = None if args.no_prefill else fp32_prefill(args.qopt, model, args)
    if prefill:
        print(f"fp32 program prefill of {args.seqlen} tokens: {prefill:.1f} tok/s", file=sys.stderr)
    rows = []
    for recipe in recipes:
        row = run_compile(args.qopt, model, recipe, args)
        rows.append(row)
        tps = row["calib_tokens"] / row["calib_seconds"] if row["calib_seconds"] else 0
        print(f"  {recipe}: {row['wall']:.0f} s, peak {row['rss'] / 2**30:.2f} GiB, calibration "
              f"{tps:.1f} tok/s", file=sys.stderr, flush=True)

    print(f"\n{SHAPES[args.shape]} (synthetic, bf16), {args.samples} x {args.seqlen} calibration "
          f"tokens, {args.threads} threads")
    if prefill:
        print(f"fp32 program prefill ({args.seqlen} tokens): {prefill:.1f} tok/s")
    print("\n| recipe | wall | peak RSS | calibration forward tok/s | vs fp32 prefill | passes |")
    print("|---|---:|---:|---:|---:|---|")
    for r in rows:
        tps = r["calib_tokens"] / r["calib_seconds"] if r["calib_seconds"] else 0
        ratio = f"{100 * tps / prefill:.0f}%" if prefill and tps else "-"
        passes = "; ".join(f"{name} {s:.0f} s" for name, s in r["passes"])
        print(f"| {' '.join(RECIPES[r['recipe']])} | {r['wall'] / 60:.1f} min | "
              f"{r['rss'] / 2**30:.2f} GiB | {tps:.1f} | {ratio} | {passes} |")


if __name__ == "__main__":
    main()
