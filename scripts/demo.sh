#!/usr/bin/env bash
# Sets up, builds, and runs the main job on the bundled default model
# (stories260K): import to qnt IR, generate text, measure perplexity, then
# quantize it to 4 bits (AWQ + GPTQ) and report size and accuracy.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
shared="${QOPT_SHARED:-$root/../shared}"
"$root/scripts/setup.sh"
"$root/scripts/build.sh"
qopt="$root/build/bin/qopt"
out="$root/build/models"
mkdir -p "$out"
echo "== import"
"$qopt" import "$shared/models/stories260K/stories260K.bin" -o "$out/stories260K.mlir"
echo "== generate (greedy, 200 steps)"
"$qopt" run "$out/stories260K.mlir" -t 0 -n 200
echo "== generate (temperature 0.8, top-p 0.9, seed 42)"
"$qopt" run "$out/stories260K.mlir" -p "Once upon a time" -t 0.8 -n 120
echo "== perplexity on TinyStories dev.txt (ctx 256)"
"$qopt" eval "$out/stories260K.mlir" "$shared/data/tinystories/dev.txt" --ctx 256
echo "== quantize: AWQ + GPTQ w4 g32 act-order, calibrated on the first 20% of dev.txt"
/usr/bin/python3 "$root/scripts/bench_quant.py" --split-only --work "$out"
"$qopt" compile "$out/stories260K.mlir" -o "$out/stories260K-w4.mlir" --recipe awq-gptq \
  --act-order --calib "$out/calib.txt" --eval "$out/eval.txt"
echo "== build a standalone CPU program from the quantized model and run it"
"$qopt" build "$out/stories260K-w4.mlir" -o "$out/stories260K-w4"
"$out/stories260K-w4" -p "Once upon a time" -t 0 -n 120
"$out/stories260K-w4" --ppl "$out/eval.txt"
"$out/stories260K-w4" --bench
