#!/usr/bin/python3
"""qopt's GGUF export checked by llama.cpp itself, and set beside llama.cpp's own Q4_0.

  /usr/bin/python3 scripts/check_gguf_llamacpp.py [--models stories260K,stories110M]
                   [--chunks 40] [--ctx 128] [--threads 2] [--work build/gguf-check]

For each model: qopt imports the checkpoint, quantizes it with GPTQ w4 g32
(calibration: a slice of TinyStories dev.txt that the evaluation slice does
not overlap) and exports it with `qopt export --allow-requant` (weights whose
rows are not whole blocks of 32, stories260K's w2 with 172 columns, go to F32,
which holds them exactly; every other weight is Q4_0 bit for bit). Then:

 1. Perplexity on the same tokens: llama-perplexity's protocol (chunks of
    --ctx tokens from llama.cpp's tokenization of the evaluation slice, the
    first token of each chunk replaced by BOS, the second half of each chunk
    scored), from `qopt logits` of the quantized IR on those token ids, and
    by llama-perplexity twice: on the blocks as llama.cpp decodes them
    (llama-quantize --allow-requantize to F32, then an f32 run: the weights
    alone), which must agree within 0.1% on every model, and on the Q4_0
    file itself, where llama.cpp also rounds activations to Q8_0 blocks for
    its dot products: within 0.1% required on the trained stories260K,
    reported for the random-weight shape (whose near-uniform predictions
    amplify that rounding).
 2. Greedy text: llama-simple's 60 tokens against `qopt run -t 0` (required
    on stories260K, reported otherwise).
 3. A table: qopt-GPTQ exported to Q4_0 beside llama.cpp's own llama-quantize
    Q4_0, and Q4_0 with an importance matrix (llama-imatrix on the same
    calibration slice), all from the same F32 GGUF (also qopt's export):
    file size, PPL and KL divergence from F32 (llama-perplexity
    --kl-divergence), all measured by llama.cpp.

 4. tokenizer.json vocabularies: tiny synthetic models with Llama 2's
    tokenizer.json (shared/hf/llama2) and with GPT-2's (Phi-2's without its
    added whitespace tokens) exported to GGUF; llama-tokenize on each must
    give llama.cpp's own test vectors for that vocabulary
    (shared/hf/gguf-vocab/ggml-vocab-{llama-spm,gpt-2}.gguf.inp/.out). And
    GPT-2's vocabulary behind Llama 3's and Qwen2's split regexes, exported
    with their llama.cpp names (llama-bpe, qwen2): llama-tokenize, running
    llama.cpp's own copy of each split, must equal `qopt tokenize`.
 5. K-quants: python/qopt_ref/gguf_read.py's decoding of Q2_K .. Q6_K (the
    CI tests' oracle) against gguf-py's on random super-blocks; then
    llama-quantize's Q2_K, Q3_K_M, Q4_K_M, Q5_K_M and Q6_K files of the
    --k-quant-models imported by qopt: qopt's perplexity on the same token
    ids against llama.cpp's on the blocks it decodes to F32, within 0.1%.

llama.cpp is built once from the npm bundle as scripts/bench_llamacpp.py does.
The synthetic stories110M shape (random weights, scripts/synth_model.py) checks
the format at a real size; its perplexities say nothing about quality.
"""
import argparse
import math
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import bench_llamacpp  # noqa: E402

SHARED = os.environ.get("QOPT_SHARED", os.path.join(ROOT, "..", "shared"))
QOPT = os.environ.get("QOPT", os.path.join(ROOT, "build", "bin", "qopt"))
DEV = os.path.join(SHARED, "data", "tinystories", "dev.txt")
TARGETS = ("llama-simple", "llama-perplexity", "llama-imatrix", "llama-quantize",
           "llama-tokenize")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(*cmd, **kw):
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        sys.exit(f"error: {' '.join(map(str, cmd))} failed:\n{proc.stderr[-2000:]}")
    return proc


def checkpoint(name, work):
    """(checkpoint path, tokenizer path) of a model."""
    if name == "stories260K":
        return (os.path.join(SHARED, "models", "stories260K", "stories260K.bin"),
                os.path.join(SHARED, "models", "stories260K", "tok512.bin"))
    path = os.path.join(work, f"{name}.bin")
    if not os.path.exists(path):
        log(f"writing the synthetic {name} checkpoint ...")
        run("/usr/bin/python3", os.path.join(HERE, "synth_model.py"), "--shape", name,
            "-o", path)
    return path, os.path.join(SHARED, "models", "llama2-tokenizer", "tokenizer.bin")


def text_slices(work):
    """An evaluation slice and a calibration slice of dev.txt that do not overlap."""
    with open(DEV, encoding="utf-8") as f:
        text = f.read()
    paths = {}
    for name, (lo, hi) in {"eval": (0, 60000), "calib": (200000, 300000)}.items():
        paths[name] = os.path.join(work, f"{name}.txt")
        with open(paths[name], "w", encoding="utf-8") as f:
            f.write(text[lo:hi])
    return paths["eval"], paths["calib"]


def llama_ppl(bindir, gguf, text, args, extra=(), tries=3):
    proc = run(os.path.join(bindir, "llama-perplexity"), "-m", gguf, "-f", text, "-c", args.ctx,
               "--chunks", args.chunks, "-t", args.threads, "-b", args.ctx, *extra)
    out = proc.stdout + proc.stderr
    if not re.search(r"Final estimate|Mean\s+KLD|Mean\s+PPL", out) and tries > 1:
        # llama.cpp's logger writes from a thread of its own, and a run now
        # and then exits before its last lines are out: run it again
        return llama_ppl(bindir, gguf, text, args, extra, tries - 1)
    result = {}
    m = re.search(r"Final estimate: PPL = ([0-9.]+)", out)
    if m:
        result["ppl"] = float(m.group(1))
    m = re.search(r"Mean\s+KLD:\s+(-?[0-9.]+)", out)
    if m:
        result["kld"] = float(m.group(1))
    m = re.search(r"Mean\s+PPL\(Q\)\s*:\s*([0-9.]+)", out)
    if m:
        result["ppl"] = float(m.group(1))
    m = re.search(r"Same top p\s*:\s*([0-9.]+)", out)
    if m:
        result["top1"] = float(m.group(1))
    if not result:
        sys.exit(f"error: no figures in llama-perplexity's output:\n{out[-2000:]}")
    return result


def llama_tokens(bindir, gguf, text):
    out = run(os.path.join(bindir, "llama-tokenize"), "-m", gguf, "-f", text, "--ids",
              "--log-disable").stdout
    return [int(t) for t in out.strip().strip("[]").split(",")]


def log_softmax_nll(logits, targets):
    x = logits.astype(np.float64)
    x -= x.max(axis=1, keepdims=True)
    lse = np.log(np.exp(x).sum(axis=1))
    return -(x[np.arange(len(targets)), targets] - lse)


def qopt_ppl(mlir, tokens, args):
    """llama-perplexity's protocol over qopt's logits of the same token ids."""
    n_ctx, first = args.ctx, args.ctx // 2
    nll, count = 0.0, 0
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "logits.npy")
        for i in range(min(args.chunks, len(tokens) // n_ctx)):
            chunk = list(tokens[i * n_ctx:(i + 1) * n_ctx])
            chunk[0] = 1  # BOS, as llama-perplexity does
            run(QOPT, "logits", mlir, "--tokens", ",".join(map(str, chunk)), "-o", out,
                "--threads", args.threads)
            logits = np.load(out)
            # positions first .. n_ctx-2 predict the (original) next tokens
            targets = tokens[i * n_ctx + first + 1:(i + 1) * n_ctx]
            nll += log_softmax_nll(logits[first:n_ctx - 1], np.asarray(targets)).sum()
            count += n_ctx - 1 - first
    return math.exp(nll / count)


def greedy(bindir, gguf, mlir):
    prompt = "Once upon a time"
    a = run(os.path.join(bindir, "llama-simple"), "-m", gguf, "-n", "60", prompt).stdout
    b = run(QOPT, "run", mlir, "-p", prompt, "-n", "61", "-t", "0").stdout
    a = " ".join(a.replace("<s>", "").split())
    b = " ".join(b.split())
    return a, b


def imported(name, args):
    """(work directory, the model imported as .mlir, its F32 GGUF export)."""
    work = os.path.join(args.work, name)
    os.makedirs(work, exist_ok=True)
    ckpt, tok = checkpoint(name, args.work)
    base = os.path.join(work, "base.mlir")
    run(QOPT, "import", ckpt, "--tokenizer", tok, "-o", base)
    f32 = os.path.join(work, "f32.gguf")
    run(QOPT, "export", base, "-o", f32)
    return work, base, f32


def check_model(name, bindir, args, eval_text, calib_text, rows, checks):
    work, base, f32 = imported(name, args)
    gptq = os.path.join(work, "gptq.mlir")
    log(f"{name}: qopt compile --recipe gptq --bits 4 --group-size 32 ...")
    run(QOPT, "compile", base, "-o", gptq, "--recipe", "gptq", "--bits", "4", "--group-size",
        "32", "--calib", calib_text, "--calib-samples", "64", "--calib-seqlen", "128")
    exported = os.path.join(work, "qopt-gptq-q4_0.gguf")
    report = run(QOPT, "export", gptq, "-o", exported, "--allow-requant").stderr
    log(report.strip())

    # 1. the same tokens, two programs
    trained = name == "stories260K"
    tokens = llama_tokens(bindir, exported, eval_text)
    chunks = min(args.chunks, len(tokens) // args.ctx)
    ours = qopt_ppl(gptq, tokens, args)
    # llama.cpp's own decoding of the blocks (llama-quantize to F32), run in f32
    decoded = os.path.join(work, "qopt-gptq-decoded-by-llama.cpp-f32.gguf")
    run(os.path.join(bindir, "llama-quantize"), "--allow-requantize", exported, decoded, "F32")
    as_f32 = llama_ppl(bindir, decoded, eval_text, args)["ppl"]
    native = llama_ppl(bindir, exported, eval_text, args)["ppl"]
    rel_f32 = abs(as_f32 - ours) / ours
    rel_native = abs(native - ours) / ours
    log(f"{name}: PPL on the same {chunks} chunks: qopt {ours:.4f}; llama.cpp on the blocks it "
        f"decoded to F32 {as_f32:.4f} ({100 * rel_f32:.3f}%); llama.cpp on Q4_0 itself "
        f"{native:.4f} ({100 * rel_native:.3f}%)")
    ok = rel_f32 <= 1e-3
    if trained:
        ok = ok and rel_native <= 1e-3
    else:
        log(f"{name}: random weights: near-uniform predictions amplify llama.cpp's rounding of "
            f"activations to Q8_0 blocks (its Q4_0 dot products); only the decoded-F32 figure "
            f"is checked")

    # 2. greedy text
    a, b = greedy(bindir, exported, gptq)
    same = a[:len(b)] == b[:len(a)] and len(a) > 100
    log(f"{name}: greedy text {'equal' if same else 'different'}:\n  llama.cpp: {a[:160]}\n"
        f"  qopt:      {b[:160]}")
    if trained:
        ok = ok and same
    checks.append((name, ours, as_f32, native, same))

    # 3. beside llama.cpp's own quantization, measured by llama.cpp
    kld_base = os.path.join(work, "f32.kld")
    llama_ppl(bindir, f32, eval_text, args, ("--kl-divergence-base", kld_base))
    q4 = os.path.join(work, "llama-q4_0.gguf")
    run(os.path.join(bindir, "llama-quantize"), f32, q4, "Q4_0")
    imatrix = os.path.join(work, "imatrix.gguf")
    run(os.path.join(bindir, "llama-imatrix"), "-m", f32, "-f", calib_text, "-o", imatrix,
        "-c", args.ctx, "-t", args.threads)
    q4i = os.path.join(work, "llama-q4_0-imatrix.gguf")
    run(os.path.join(bindir, "llama-quantize"), "--imatrix", imatrix, f32, q4i, "Q4_0")
    # llama.cpp's Q4_0 keeps the tied classifier (the embedding table) in
    # Q8_0: the same for qopt's classifier, in a quantized copy of its own.
    gptq8 = os.path.join(work, "gptq-head8.mlir")
    run(QOPT, "compile", base, "-o", gptq8, "--recipe", "gptq", "--bits", "4", "--group-size",
        "32", "--calib", calib_text, "--calib-samples", "64", "--calib-seqlen", "128",
        "--lm-head-bits", "8", "--lm-head-group-size", "32")
    exported8 = os.path.join(work, "qopt-gptq-q4_0-head-q8_0.gguf")
    run(QOPT, "export", gptq8, "-o", exported8, "--allow-requant")
    for label, gguf in (("F32 (qopt export)", f32), ("llama.cpp Q4_0", q4),
                        ("llama.cpp Q4_0 + imatrix", q4i), ("qopt GPTQ -> Q4_0", exported),
                        ("qopt GPTQ -> Q4_0, classifier Q8_0", exported8)):
        r = llama_ppl(bindir, gguf, eval_text, args,
                      ("--kl-divergence-base", kld_base, "--kl-divergence"))
        rows.append((name, label, os.path.getsize(gguf), r["ppl"], r.get("kld"),
                     r.get("top1")))
    return ok


K_QUANT_TYPES = ("Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_M", "Q6_K")


def check_k_quant_decoding():
    """python/qopt_ref/gguf_read.py's K-quant decoding (the CI tests' oracle)
    against llama.cpp's own numpy reader, gguf-py, on random super-blocks:
    (types equal bit for bit, types)."""
    sys.path.insert(0, os.path.join(ROOT, "python"))
    sys.path.insert(0, os.path.join(ROOT, "build", "llamacpp", "src", "gguf-py"))
    from gguf import constants, quants
    from qopt_ref import gguf_read
    rng = np.random.default_rng(0)
    same = 0
    with np.errstate(all="ignore"):
        for t in gguf_read.K_QUANTS:
            name = gguf_read.NAMES[t]
            blocks = rng.integers(0, 256, (64, gguf_read.SIZES[t][1]), dtype=np.uint8)
            ours = gguf_read.dequantize(t, (256 * 64,), blocks.tobytes())
            theirs = quants.dequantize(blocks, constants.GGMLQuantizationType[name]).reshape(-1)
            equal = np.array_equal(ours, theirs, equal_nan=True)
            same += equal
            log(f"K-quant decoding {name}: gguf_read {'equals' if equal else 'DIFFERS from'} "
                f"gguf-py")
    return same, len(gguf_read.K_QUANTS)


def check_k_quants(bindir, args, name, eval_text, results):
    """llama.cpp's own K-quant files of `name` (llama-quantize from qopt's
    F32 export), imported by qopt: qopt's perplexity against llama.cpp's on
    the blocks it decodes to F32, on the same tokens."""
    work, _, f32 = imported(name, args)
    tokens = llama_tokens(bindir, f32, eval_text)
    ok = True
    for qtype in K_QUANT_TYPES:
        gguf = os.path.join(work, f"llama-{qtype}.gguf")
        run(os.path.join(bindir, "llama-quantize"), f32, gguf, qtype)
        mlir = os.path.join(work, f"llama-{qtype}.mlir")
        note = run(QOPT, "import", gguf, "-o", mlir).stderr
        types = re.search(r"tensor\(s\) of ([A-Z0-9_, ]+) dequantized", note)
        ours = qopt_ppl(mlir, tokens, args)
        decoded = os.path.join(work, f"llama-{qtype}-decoded-f32.gguf")
        run(os.path.join(bindir, "llama-quantize"), "--allow-requantize", gguf, decoded, "F32")
        theirs = llama_ppl(bindir, decoded, eval_text, args)["ppl"]
        rel = abs(theirs - ours) / ours
        ok = ok and rel <= 1e-3
        log(f"{name} {qtype} ({types.group(1) if types else '?'}): qopt {ours:.4f}, llama.cpp "
            f"on its F32 decoding {theirs:.4f} ({100 * rel:.4f}%)")
        results.append((name, qtype, types.group(1) if types else "?", ours, theirs))
    return ok


def check_tokenizer_json(bindir, args, name, tokenizer_dir, vectors):
    """llama-tokenize on the GGUF of a tiny model with `tokenizer_dir`'s
    tokenizer.json: (texts that give llama.cpp's expected ids, texts)."""
    work = os.path.join(args.work, "tokenizer-" + name)
    run(sys.executable, os.path.join(HERE, "synth_model.py"), "--shape", "tiny", "--format", "hf",
        "--tokenizer", tokenizer_dir, "-o", os.path.join(work, "hf"))
    gguf = os.path.join(work, "m.gguf")
    run(QOPT, "export", os.path.join(work, "hf"), "-o", gguf)
    base = os.path.join(SHARED, "hf", "gguf-vocab", vectors)
    with open(base + ".inp", encoding="utf-8") as f:
        texts = f.read().split("\n__ggml_vocab_test__\n")[:-1]
    with open(base + ".out", encoding="utf-8") as f:
        want = [[int(x) for x in line.split()] for line in f.read().split("\n")]
    same, total = 0, 0
    for i, text in enumerate(texts):
        if not text:  # llama-tokenize refuses an empty prompt
            continue
        total += 1
        out = run(os.path.join(bindir, "llama-tokenize"), "-m", gguf, "-p", text, "--ids",
                  "--no-bos", "--log-disable").stdout.strip().splitlines()
        got = [int(x) for x in re.findall(r"-?\d+", out[-1])] if out else []
        if got == want[i]:
            same += 1
        else:
            log(f"  llama-tokenize differs on {text[:40]!r}: {got[:8]} vs {want[i][:8]}")
    return same, total


# The Split regexes of Llama 3's and Qwen2's tokenizer.json
LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_SPLIT = LLAMA3_SPLIT.replace(r"\p{N}{1,3}", r"\p{N}")


def check_split(bindir, args, name, regex):
    """GPT-2's vocabulary behind another family's split, exported to GGUF:
    llama-tokenize (llama.cpp's own copy of that split, chosen by the
    tokenizer.ggml.pre name qopt wrote) against `qopt tokenize` on the
    tokenizer.json, over the gpt-2 test texts: (texts alike, texts)."""
    import json
    d = os.path.join(args.work, "split-" + name)
    base = gpt2_tokenizer_dir(args.work)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(base, "tokenizer.json"), encoding="utf-8") as f:
        j = json.load(f)
    j["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
         "use_regex": False}]}
    with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(j, f)
    with open(os.path.join(base, "tokenizer_config.json"), "rb") as f, \
            open(os.path.join(d, "tokenizer_config.json"), "wb") as g:
        g.write(f.read())
    run(sys.executable, os.path.join(HERE, "synth_model.py"), "--shape", "tiny", "--format", "hf",
        "--tokenizer", d, "-o", os.path.join(d, "hf"))
    gguf = os.path.join(d, "m.gguf")
    run(QOPT, "export", os.path.join(d, "hf"), "-o", gguf)
    with open(os.path.join(SHARED, "hf", "gguf-vocab", "ggml-vocab-gpt-2.gguf.inp"),
              encoding="utf-8") as f:
        texts = [t for t in f.read().split("\n__ggml_vocab_test__\n")[:-1] if t]
    same = 0
    for text in texts:
        out = run(os.path.join(bindir, "llama-tokenize"), "-m", gguf, "-p", text, "--ids",
                  "--no-bos", "--log-disable").stdout.strip().splitlines()
        theirs = [int(x) for x in re.findall(r"-?\d+", out[-1])] if out else []
        ours = [int(x) for x in run(QOPT, "tokenize", os.path.join(d, "tokenizer.json"), "-p",
                                    text).stdout.split()]
        if ours == theirs:
            same += 1
        else:
            log(f"  {name}: llama-tokenize and qopt differ on {text[:40]!r}: {theirs[:8]} vs "
                f"{ours[:8]}")
    return same, len(texts)


def gpt2_tokenizer_dir(work):
    """Phi-2's tokenizer files with its added whitespace tokens set aside:
    GPT-2's vocabulary, as llama.cpp's gpt-2 test vectors know it."""
    import json
    d = os.path.join(work, "gpt2-tokenizer")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(SHARED, "hf", "phi-2", "tokenizer.json"), encoding="utf-8") as f:
        j = json.load(f)
    j["added_tokens"] = [t for t in j["added_tokens"] if t["content"] in j["model"]["vocab"]]
    with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(j, f)
    with open(os.path.join(SHARED, "hf", "phi-2", "tokenizer_config.json"), "rb") as f, \
            open(os.path.join(d, "tokenizer_config.json"), "wb") as g:
        g.write(f.read())
    return d


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default="stories260K")
    p.add_argument("--chunks", type=int, default=40)
    p.add_argument("--ctx", type=int, default=128)
    p.add_argument("--threads", default="2")
    p.add_argument("--k-quant-models", default="stories110M",
                   help="models whose llama-quantize K-quant files qopt imports (rows must be "
                        "whole super-blocks of 256; empty for none)")
    p.add_argument("--work", default=os.path.join(ROOT, "build", "gguf-check"))
    args = p.parse_args()
    os.makedirs(args.work, exist_ok=True)
    bindir = bench_llamacpp.build_llamacpp(os.path.join(ROOT, "build", "llamacpp"), TARGETS)
    eval_text, calib_text = text_slices(args.work)
    rows, checks, ok = [], [], True
    for name in filter(None, args.models.split(",")):
        ok = check_model(name, bindir, args, eval_text, calib_text, rows, checks) and ok
    print()
    for name, tokenizer_dir, vectors in (
            ("llama2", os.path.join(SHARED, "hf", "llama2"), "ggml-vocab-llama-spm.gguf"),
            ("gpt2", gpt2_tokenizer_dir(args.work), "ggml-vocab-gpt-2.gguf")):
        same, total = check_tokenizer_json(bindir, args, name, tokenizer_dir, vectors)
        ok = ok and same == total
        print(f"tokenizer.json ({name}) exported to GGUF: llama-tokenize gives llama.cpp's "
              f"expected ids ({vectors}) on {same} of {total} non-empty test texts")
    for name, regex in (("llama-bpe", LLAMA3_SPLIT), ("qwen2", QWEN2_SPLIT)):
        same, total = check_split(bindir, args, name, regex)
        ok = ok and same == total
        print(f"GPT-2's vocabulary with the {name} split, exported to GGUF: llama-tokenize "
              f"equals qopt tokenize on {same} of {total} gpt-2 test texts")
    same, total = check_k_quant_decoding()
    ok = ok and same == total
    print(f"K-quant decoding of python/qopt_ref/gguf_read.py equals gguf-py's bit for bit on "
          f"{same} of {total} types")
    k_results = []
    for name in filter(None, args.k_quant_models.split(",")):
        ok = check_k_quants(bindir, args, name, eval_text, k_results) and ok
    if k_results:
        print(f"\nllama-quantize K-quant files imported by qopt, PPL on the same {args.chunks} "
              f"chunks of {args.ctx} tokens\n")
        print("| model | llama-quantize type | tensor types | qopt (executor) "
              "| llama.cpp, blocks decoded to F32 |")
        print("|---|---|---|---:|---:|")
        for name, qtype, types, ours, theirs in k_results:
            print(f"| {name} | {qtype} | {types} | {ours:.4f} "
                  f"| {theirs:.4f} ({100 * (theirs - ours) / ours:+.4f}%) |")
    if checks:  # the GPTQ-exported models of --models
        print(f"\nqopt GPTQ w4 g32 exported to GGUF, PPL on the same {args.chunks} chunks of "
              f"{args.ctx} tokens\n")
        print("| model | qopt (executor) | llama.cpp, blocks decoded to F32 | llama.cpp, Q4_0 "
              "| greedy text |")
        print("|---|---:|---:|---:|---|")
        for name, ours, as_f32, native, same in checks:
            print(f"| {name} | {ours:.4f} | {as_f32:.4f} ({100 * abs(as_f32 - ours) / ours:+.3f}%) "
                  f"| {native:.4f} ({100 * abs(native - ours) / ours:+.3f}%) "
                  f"| {'same' if same else 'differs'} |")
        print(f"\n{args.chunks} chunks of {args.ctx} tokens of TinyStories dev.txt[0:60000], "
              f"measured by llama-perplexity (KL divergence from the F32 GGUF)\n")
        print("| model | weights | file bytes | PPL | mean KLD | same top token |")
        print("|---|---|---:|---:|---:|---:|")
        def fmt(v, spec):
            return "n/a" if v is None else format(v, spec)
        for name, label, size, ppl, kld, top1 in rows:
            print(f"| {name} | {label} | {size} | {ppl:.4f} | {fmt(kld, '.5f')} "
                  f"| {fmt(top1, '.2f')}% |")
    if not ok:
        sys.exit("error: llama.cpp and qopt disagree on the exported GGUF (see above)")


if __name__ == "__main__":
    main()
