#!/usr/bin/python3
"""qopt's CPU programs beside llama.cpp on the same weights, same machine, same threads.

  /usr/bin/python3 scripts/bench_llamacpp.py [--models stories110M,tinyllama-1.1B] [--threads 2]

llama.cpp comes from the npm registry (the machine reaches no other source):
node-llama-cpp's package carries the llama.cpp source it was built from as a git
bundle. The script unpacks it under build/llamacpp and builds llama-bench and
llama-simple with GGML_NATIVE (-march=native, as qopt's kernels get), once.

Each synthetic checkpoint (scripts/synth_model.py) is written as GGUF by
python/qopt_ref/gguf_export.py in the llama.cpp type nearest each qopt scheme:
  fp32                      <-> F32
  w8 per-channel            <-> Q8_0 (blocks of 32, f16 scale: 8.5 bits)
  w4 g32                    <-> Q4_0 (blocks of 32, f16 scale: 4.5 bits)
  W8A8 dynamic              <-> Q8_0 (llama.cpp quantizes activations to Q8_0 too)
The exporter writes every matrix, the classifier included, in that type, so
qopt's programs here quantize their classifier in the same layout: 8 or 4 bits
with one scale per 32 input channels (--lm-head-bits, --lm-head-group-size
32). qopt's default keeps it in float, which decode must then read whole
(see bench_cpu.py). Both sides keep the KV cache in f16 (llama.cpp's default;
qopt's --kv-cache f16).

Both sides time prefill of --prefill tokens from an empty cache, then decode
of --decode tokens after a context of --prefill tokens: the program's --bench
does exactly that, and llama-bench runs its pp test, then its tg test at
depth --prefill (-d), each the mean of 3 repetitions. Sizes: what one qopt
decode step reads (linears and classifier), and llama.cpp's whole file, all of
which its decode reads when the classifier is the tied embedding table. Before
timing, llama-simple's greedy text on the stories260K GGUF must equal
expected_greedy_200.txt, which checks the exporter (vocabulary, tensor layout,
rope) against llama.cpp itself.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "python"))
import bench_cpu  # noqa: E402
from qopt_ref import gguf_export, llama  # noqa: E402

NODE_LLAMA_CPP = "node-llama-cpp@3.22.1"
# the classifier as llama.cpp's type stores it, and llama.cpp's KV cache type
AS_Q8_0 = ["--lm-head-bits", "8", "--lm-head-group-size", "32", "--kv-cache", "f16"]
AS_Q4_0 = ["--lm-head-bits", "4", "--lm-head-group-size", "32", "--kv-cache", "f16"]
PAIRS = [
    ("fp32", ["--recipe", "fp32", "--kv-cache", "f16"], "F32"),
    ("w8 per-channel", ["--recipe", "rtn", "--bits", "8", "--group-size", "0", *AS_Q8_0], "Q8_0"),
    ("w4 g32", ["--recipe", "rtn", "--bits", "4", "--group-size", "32", *AS_Q4_0], "Q4_0"),
    ("W8A8 dynamic", ["--recipe", "w8a8", "--act-mode", "dynamic", *AS_Q8_0], "Q8_0"),
]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def build_llamacpp(root, targets=("llama-bench", "llama-simple")):
    """build/llamacpp/src/build/bin/{targets}, built once."""
    bindir = os.path.join(root, "src", "build", "bin")
    if all(os.path.exists(os.path.join(bindir, b)) for b in targets):
        return bindir
    os.makedirs(root, exist_ok=True)
    src = os.path.join(root, "src")
    if not os.path.exists(os.path.join(src, "CMakeLists.txt")):
        log(f"fetching llama.cpp source from the npm package {NODE_LLAMA_CPP} ...")
        tgz = subprocess.run(["npm", "pack", "--silent", NODE_LLAMA_CPP], cwd=root, check=True,
                             capture_output=True, text=True).stdout.split()[-1]
        with tarfile.open(os.path.join(root, tgz)) as t:
            member = t.getmember("package/llama/gitRelease.bundle")
            with open(os.path.join(root, "llama.cpp.bundle"), "wb") as f:
                shutil.copyfileobj(t.extractfile(member), f)
        shutil.rmtree(src, ignore_errors=True)
        subprocess.run(["git", "clone", "-q", os.path.join(root, "llama.cpp.bundle"), src],
                       check=True)
    log(f"building {', '.join(targets)} (GGML_NATIVE, Release; about 5 minutes) ...")
    subprocess.run(["cmake", "-S", src, "-B", os.path.join(src, "build"), "-G", "Ninja",
                    "-DCMAKE_BUILD_TYPE=Release", "-DGGML_NATIVE=ON", "-DBUILD_SHARED_LIBS=OFF",
                    "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=ON",
                    "-DLLAMA_BUILD_SERVER=ON", "-DLLAMA_CURL=OFF", "-DLLAMA_OPENSSL=OFF"],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["ninja", "-C", os.path.join(src, "build"), *targets],
                   check=True, stdout=subprocess.DEVNULL)
    return bindir


def check_exporter(bindir, work):
    """llama.cpp's greedy text on the exported stories260K equals the reference text."""
    models = os.path.join(bench_cpu.SHARED, "models", "stories260K")
    cfg, w = llama.read_llama2c(os.path.join(models, "stories260K.bin"))
    path = os.path.join(work, "stories260K-F32.gguf")
    gguf_export.export(cfg, w, path, "F32", os.path.join(models, "tok512.bin"))
    out = subprocess.run([os.path.join(bindir, "llama-simple"), "-m", path, "-n", "60",
                          "Once upon a time"], check=True, capture_output=True, text=True).stdout
    text = " ".join(out.replace("<s>", "").split())
    with open(os.path.join(models, "expected_greedy_200.txt")) as f:
        expected = " ".join(f.read().split())
    if not expected.startswith(text[:150]) or len(text) < 150:
        sys.exit(f"error: llama.cpp's greedy text on the exported GGUF differs from "
                 f"expected_greedy_200.txt:\n  {text[:150]}\n  {expected[:150]}")
    log("exporter check: llama.cpp's greedy stories260K text equals expected_greedy_200.txt")


def llama_bench(bindir, gguf, args):
    """llama-bench's prefill from an empty cache and decode at depth --prefill."""
    def run(*test):
        out = subprocess.run([os.path.join(bindir, "llama-bench"), "-m", gguf,
                              "-t", str(args.threads), "-r", "3", "-o", "json", *test],
                             check=True, capture_output=True, text=True).stdout
        return json.loads(out)[0]
    pp = run("-p", str(args.prefill), "-n", "0")
    tg = run("-p", "0", "-n", str(args.decode), "-d", str(args.prefill))
    return {"prefill": pp["avg_ts"], "decode": tg["avg_ts"], "bytes": pp["model_size"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="stories110M,tinyllama-1.1B")
    ap.add_argument("--schemes", default=",".join(p[0] for p in PAIRS),
                    help="comma-separated subset of: " + ", ".join(p[0] for p in PAIRS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prefill", type=int, default=128)
    ap.add_argument("--decode", type=int, default=64)
    ap.add_argument("--work", default=os.path.join(bench_cpu.ROOT, "build", "bench-cpu"))
    ap.add_argument("--llamacpp", default=os.path.join(bench_cpu.ROOT, "build", "llamacpp"))
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    try:
        bindir = build_llamacpp(args.llamacpp)
    except (subprocess.CalledProcessError, FileNotFoundError, KeyError) as e:
        sys.exit(f"error: could not fetch or build llama.cpp under {args.llamacpp} ({e}); "
                 "it needs npm, the npm registry, git, cmake and ninja")
    check_exporter(bindir, args.work)
    calib = os.path.join(args.work, "calib.txt")
    with open(os.path.join(bench_cpu.SHARED, "data", "tinystories", "dev.txt")) as f, \
            open(calib, "w") as g:
        g.write(f.read()[:200000])
    rows = []
    for name in args.models.split(","):
        path, tokenizer = bench_cpu.model_path(name, args.work)
        cfg, w = llama.read_llama2c(path)
        for scheme, opts, gtype in PAIRS:
            if scheme not in args.schemes.split(","):
                continue
            gguf = os.path.join(args.work, f"{name}-{gtype}.gguf")
            if not os.path.exists(gguf):
                gguf_export.export(cfg, w, gguf, gtype, bench_cpu.LLAMA2_TOKENIZER, name)
            stem = os.path.join(args.work, f"{name}-{scheme.replace(' ', '_')}-as-{gtype}")
            extra = ["--calib", calib, "--calib-samples", "4", "--calib-seqlen", "64",
                     *tokenizer] if "w8a8" in opts else []
            subprocess.run([bench_cpu.QOPT, "compile", path, "-o", stem + ".mlir", *opts, *extra],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            bench_cpu.build(stem, stem)
            ours = bench_cpu.bench(stem, args)
            theirs = llama_bench(bindir, gguf, args)
            bench_cpu.remove(stem, True)
            rows.append((name, scheme, gtype, ours, theirs))
            log(f"  {name} {scheme}: qopt prefill {float(ours['prefill_tok_s']):.0f} decode "
                f"{float(ours['decode_tok_s']):.1f} | llama.cpp {gtype} prefill "
                f"{theirs['prefill']:.0f} decode {theirs['decode']:.1f} tok/s")
        del w
    commit = subprocess.run(["git", "-C", os.path.join(args.llamacpp, "src"), "log", "-1",
                             "--format=%h"], capture_output=True, text=True).stdout.strip()
    print(f"\nllama.cpp {commit} (the source {NODE_LLAMA_CPP} bundles), GGML_NATIVE; "
          f"{args.threads} threads; prefill {args.prefill} tokens, decode {args.decode} tokens "
          f"after {args.prefill}; f16 KV cache. {time.strftime('%Y-%m-%d')}.\n")
    print("| model | qopt scheme | llama.cpp type | qopt MiB read per token | llama.cpp MiB | "
          "qopt prefill tok/s | llama.cpp prefill tok/s | ratio | qopt decode tok/s | "
          "llama.cpp decode tok/s | ratio |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, scheme, gtype, ours, theirs in rows:
        op, od = float(ours["prefill_tok_s"]), float(ours["decode_tok_s"])
        print(f"| {name} | {scheme} | {gtype} | {float(ours['decode_bytes']) / 2**20:.1f} | "
              f"{theirs['bytes'] / 2**20:.1f} | {op:.0f} | {theirs['prefill']:.0f} | "
              f"{op / theirs['prefill']:.2f} | {od:.1f} | {theirs['decode']:.1f} | "
              f"{od / theirs['decode']:.2f} |")


if __name__ == "__main__":
    main()
