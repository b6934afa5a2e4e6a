#!/usr/bin/env python3
"""Snapshot of what every scheme compiles to, for refactors that must not change behaviour.

For each scheme below, on stories260K: `qopt compile` (small calibration so
the whole set takes a few minutes), `qopt build`, then the program's prompt
logits (`--logits`) on every CPU kernel family this machine runs
(QRT_ISA=avx512vnni, avx2, portable). Writes into DIR the quantized .mlir,
its .safetensors, the logits .npy files and a manifest of SHA-256 digests.

  /usr/bin/python3 scripts/program_snapshot.py --out DIR [--qopt build/bin/qopt]
  /usr/bin/python3 scripts/program_snapshot.py --compare DIR_BEFORE DIR_AFTER

--compare prints one line per file (same / DIFFERENT, with the largest logit
difference for .npy files) and exits 1 when anything differs.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
CALIB = ["--calib-samples", "8", "--calib-seqlen", "64"]

# name, qopt compile arguments, qopt build arguments
SCHEMES = [
    ("fp32", ["--recipe", "fp32"], []),
    ("rtn-w8-pc", ["--recipe", "rtn", "--bits", "8", "--group-size", "0"], []),
    ("rtn-w4-g32", ["--recipe", "rtn"], []),
    ("rtn-w4-g32-f32act", ["--recipe", "rtn"], ["--act-int8=false"]),
    ("rtn-w4-g128-asym", ["--recipe", "rtn", "--group-size", "128", "--symmetric=false"], []),
    ("rtn-w3", ["--recipe", "rtn", "--bits", "3"], []),
    ("gptq-w4-actorder", ["--recipe", "gptq", "--act-order"] + CALIB, []),
    ("awq", ["--recipe", "awq"] + CALIB, []),
    ("awq-gptq", ["--recipe", "awq-gptq", "--act-order"] + CALIB, []),
    ("w8a8-static", ["--recipe", "w8a8", "--act-mode", "static"] + CALIB, []),
    ("w8a8-dynamic", ["--recipe", "w8a8", "--act-mode", "dynamic"] + CALIB, []),
    ("w8a8-dynamic-unfused", ["--recipe", "w8a8", "--act-mode", "dynamic"] + CALIB,
     ["--fuse=false"]),
    ("llm-int8", ["--recipe", "llm-int8"] + CALIB, []),
    ("nf4", ["--recipe", "nf4"], []),
    ("mixed", ["--recipe", "mixed", "--target-bpw", "4.5", "--act-order"] + CALIB, []),
    ("rtn-kvf16-lmhead8", ["--recipe", "rtn", "--kv-cache", "f16", "--lm-head-bits", "8"], []),
]
PROMPT = "Once upon a time, there was a little girl named Lily. She"


FAMILIES = ["avx512vnni", "avx2", "portable"]


def run(cmd, env=None):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       env=dict(os.environ, **(env or {})))
    if r.returncode != 0:
        sys.exit("failed: " + " ".join(cmd) + "\n" + r.stdout[-3000:])


def digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def snapshot(args):
    os.makedirs(args.out, exist_ok=True)
    base = os.path.join(args.out, "stories260K.mlir")
    run([args.qopt, "import", args.model, "-o", base])
    calib = os.path.join(SHARED, "data", "tinystories", "dev.txt")
    manifest = {}
    for name, compile_args, build_args in SCHEMES:
        print("==", name, flush=True)
        mlir = os.path.join(args.out, name + ".mlir")
        extra = ["--calib", calib] if "--calib-samples" in compile_args else []
        run([args.qopt, "compile", base, "-o", mlir] + compile_args + extra)
        exe = os.path.join(args.out, name)
        run([args.qopt, "build", mlir, "-o", exe] + build_args)
        outputs = [mlir, mlir[:-5] + ".safetensors"]
        for isa in FAMILIES:
            npy = os.path.join(args.out, f"{name}.{isa}.logits.npy")
            run([exe, "-p", PROMPT, "--logits", npy, "--threads", "2"], {"QRT_ISA": isa})
            outputs.append(npy)
        for f in outputs:
            manifest[os.path.basename(f)] = digest(f)
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
    print("wrote", len(manifest), "digests to", os.path.join(args.out, "manifest.json"))


def compare(before, after):
    import numpy as np
    a = json.load(open(os.path.join(before, "manifest.json")))
    b = json.load(open(os.path.join(after, "manifest.json")))
    bad = 0
    for name in sorted(set(a) | set(b)):
        if a.get(name) == b.get(name):
            print(f"same       {name}")
            continue
        bad += 1
        note = ""
        if name.endswith(".npy") and name in a and name in b:
            x = np.load(os.path.join(before, name))
            y = np.load(os.path.join(after, name))
            note = f" (max |diff| {np.abs(x - y).max():.3g})" if x.shape == y.shape else " (shape)"
        print(f"DIFFERENT  {name}{note}")
    print(f"{len(set(a) | set(b)) - bad} same, {bad} different")
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qopt", default=os.path.join(ROOT, "build", "bin", "qopt"))
    ap.add_argument("--model", default=os.path.join(SHARED, "models", "stories260K",
                                                    "stories260K.bin"))
    ap.add_argument("--out")
    ap.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"))
    args = ap.parse_args()
    if args.compare:
        sys.exit(compare(*args.compare))
    if not args.out:
        ap.error("--out DIR or --compare BEFORE AFTER")
    snapshot(args)


if __name__ == "__main__":
    main()
