#!/usr/bin/env python3
"""Accuracy table of every quantization recipe on stories260K.

Calibrates on the first 20% of the documents of ../shared/data/tinystories/
dev.txt and evaluates perplexity on the remaining 80% with the protocol of
`qopt eval` (BOS-separated documents, 256-token windows). Each row is one
`qopt compile` run; bits per weight are over all linears with scales and
zero points counted. Prints a markdown table (the one in README.md).

  /usr/bin/python3 scripts/bench_quant.py [--qopt build/bin/qopt] [--rows NAME,...]
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")

# name, qopt compile arguments
ROWS = [
    ("fp32", ["--recipe", "fp32"]),
    ("RTN w8 per-channel", ["--recipe", "rtn", "--bits", "8", "--group-size", "0"]),
    ("SmoothQuant W8A8 static", ["--recipe", "w8a8", "--act-mode", "static"]),
    ("SmoothQuant W8A8 dynamic", ["--recipe", "w8a8", "--act-mode", "dynamic"]),
    ("LLM.int8 (threshold 6)", ["--recipe", "llm-int8"]),
    ("RTN w4 g32", ["--recipe", "rtn"]),
    ("AWQ w4 g32", ["--recipe", "awq"]),
    ("GPTQ w4 g32", ["--recipe", "gptq"]),
    ("GPTQ w4 g32 act-order", ["--recipe", "gptq", "--act-order"]),
    ("AWQ+GPTQ w4 g32 act-order", ["--recipe", "awq-gptq", "--act-order"]),
    ("RTN w3 g32", ["--recipe", "rtn", "--bits", "3"]),
    ("GPTQ w3 g32 act-order", ["--recipe", "gptq", "--bits", "3", "--act-order"]),
    ("AWQ+GPTQ w3 g32 act-order", ["--recipe", "awq-gptq", "--bits", "3", "--act-order"]),
    ("NF4 g64 double-quant", ["--recipe", "nf4"]),
    ("mixed 4.5 bpw (AWQ+GPTQ)", ["--recipe", "mixed", "--target-bpw", "4.5", "--act-order"]),
    ("mixed 3.5 bpw (AWQ+GPTQ)", ["--recipe", "mixed", "--target-bpw", "3.5", "--act-order"]),
]


def split_documents(text):
    docs, cur = [], []
    for line in text.split("\n"):
        if line.strip() == "":
            if cur:
                docs.append("\n".join(cur))
            cur = []
        else:
            cur.append(line.rstrip("\r"))
    if cur:
        docs.append("\n".join(cur))
    return docs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qopt", default=os.path.join(ROOT, "build", "bin", "qopt"))
    ap.add_argument("--model", default=os.path.join(SHARED, "models", "stories260K",
                                                    "stories260K.bin"))
    ap.add_argument("--text", default=os.path.join(SHARED, "data", "tinystories", "dev.txt"))
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "bench-quant"))
    ap.add_argument("--calib-fraction", type=float, default=0.2)
    ap.add_argument("--rows", default="", help="comma-separated row names to run (default all)")
    ap.add_argument("--split-only", action="store_true",
                    help="write WORK/calib.txt and WORK/eval.txt and stop")
    args = ap.parse_args()

    os.makedirs(args.work, exist_ok=True)
    with open(args.text, encoding="utf-8") as f:
        docs = split_documents(f.read())
    cut = int(len(docs) * args.calib_fraction)
    calib = os.path.join(args.work, "calib.txt")
    evalset = os.path.join(args.work, "eval.txt")
    with open(calib, "w", encoding="utf-8") as f:
        f.write("\n\n".join(docs[:cut]) + "\n")
    with open(evalset, "w", encoding="utf-8") as f:
        f.write("\n\n".join(docs[cut:]) + "\n")
    print(f"calibration: first {cut} of {len(docs)} documents; evaluation: the other "
          f"{len(docs) - cut}", file=sys.stderr)

    if args.split_only:
        return

    wanted = set(r for r in args.rows.split(",") if r)
    results = []
    fp32_ppl = None
    for name, extra in ROWS:
        if wanted and name not in wanted:
            continue
        stem = os.path.join(args.work, name.split(" (")[0].replace(" ", "_").replace("+", "-"))
        cmd = [args.qopt, "compile", args.model, "-o", stem + ".mlir", "--calib", calib,
               "--calib-samples", "128", "--eval", evalset] + extra
        print("$ " + " ".join(cmd), file=sys.stderr)
        start = time.time()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            sys.exit(f"{name}: qopt compile failed")
        with open(stem + ".report.json") as f:
            report = json.load(f)
        ppl = report["eval"]["ppl_after"]
        if fp32_ppl is None:
            fp32_ppl = report["eval"]["ppl_before"]
        bpw = report["linear_bits_per_weight"]
        results.append((name, bpw, ppl, time.time() - start))
        print(f"  {name}: {bpw:.3f} bpw, PPL {ppl:.4f}", file=sys.stderr)

    print("| scheme | bits/weight (linears, scales counted) | PPL | vs fp32 | compile+eval s |")
    print("|---|---:|---:|---:|---:|")
    for name, bpw, ppl, secs in results:
        bits = "32" if name == "fp32" else f"{bpw:.3f}"
        print(f"| {name} | {bits} | {ppl:.4f} | {100 * (ppl / fp32_ppl - 1):+.2f}% | {secs:.0f} |")


if __name__ == "__main__":
    main()
