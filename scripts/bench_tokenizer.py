#!/usr/bin/python3
"""Tokenizer speed: `qopt tokenize` beside sentencepiece (Llama 2's
tokenizer.json vs its tokenizer.model) and beside the GPT-2 encoder
transcription (Phi-2's byte-level tokenizer.json), on whole evaluation
texts, alternating runs. Prints bytes/s and tokens/s for each, and checks
that the ids agree.

  /usr/bin/python3 scripts/bench_tokenizer.py [--shared ../shared] [--qopt build/bin/qopt] [--runs 3]
"""
import argparse
import os
import subprocess
import sys
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "python"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"))
    ap.add_argument("--qopt", default=os.path.join(ROOT, "build", "bin", "qopt"))
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    import sentencepiece as spm
    from qopt_ref import gpt2_bpe
    hf = os.path.join(args.shared, "hf")
    texts = [os.path.join(args.shared, "data", "tinystories", "dev.txt"),
             os.path.join(args.shared, "data", "wikitext-2", "test.raw.txt")]
    sp = spm.SentencePieceProcessor(
        model_file=os.path.join(args.shared, "models", "llama2-tokenizer", "tokenizer.model"))
    gpt2 = gpt2_bpe.Encoder(os.path.join(hf, "phi-2", "tokenizer.json"))
    pairs = [("llama2 tokenizer.json", os.path.join(hf, "llama2", "tokenizer.json"),
              "sentencepiece", sp.encode),
             ("phi-2 tokenizer.json (added tokens on)", os.path.join(hf, "phi-2", "tokenizer.json"),
              "GPT-2 encoder.py (python)", lambda t: gpt2.encode(t, added=True))]
    print(f"{'text':<16} {'tokenizer':<40} {'implementation':<28} {'MB/s':>7} {'Mtok/s':>7}")
    for path in texts:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        mb = len(text.encode()) / 1e6
        for name, tok_json, other_name, other in pairs:
            best = {"qopt": float("inf"), other_name: float("inf")}
            ours = theirs = None
            for _ in range(args.runs):  # alternate, best of N
                start = time.perf_counter()
                out = subprocess.run([args.qopt, "tokenize", tok_json, "--file", path,
                                      "--bos=false"], check=True, capture_output=True, text=True)
                best["qopt"] = min(best["qopt"], time.perf_counter() - start)
                ours = [int(x) for x in out.stdout.split()]
                start = time.perf_counter()
                theirs = list(other(text))
                best[other_name] = min(best[other_name], time.perf_counter() - start)
            for impl in best:
                print(f"{os.path.basename(path):<16} {name:<40} {impl:<28} "
                      f"{mb / best[impl]:7.2f} {len(ours) / best[impl] / 1e6:7.3f}")
            print(f"{'':<16} {'':<40} ids equal: {ours == theirs} ({len(ours)} tokens; qopt's "
                  "time includes process start and loading the tokenizer.json)")


if __name__ == "__main__":
    main()
