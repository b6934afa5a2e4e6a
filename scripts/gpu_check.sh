#!/usr/bin/env bash
# The NVPTX target on a real GPU, in three steps, for a session that is lent
# one through the device tool (whose machine has no qopt, MLIR or LLVM: the
# programs are built here and carried there):
#
#   scripts/gpu_check.sh prepare build/gpu-bundle     # here: programs + references
#   (device) scripts/gpu_check.sh run build/gpu-bundle $OUT   # carry build/gpu-bundle
#   scripts/gpu_check.sh compare build/gpu-bundle DIR_WITH_results.tar   # here
#
# prepare builds stories260K for the GPU (fp32, w8 per channel, w4 g32, W8A8
# dynamic) with the executor's logits and the CPU program's greedy text for
# each; run writes each program's prompt logits (prefill on the tensor-core
# GEMMs, and again on the GEMVs alone), greedy text, perplexity and --bench,
# and the kernel benchmarks (qrt-cuda-info --bench-gemv --bench-gemm, which
# fails if a GEMM disagrees with its GEMV), into one results.tar; compare
# checks logits (1e-3 relative; W8A8 the argmax) and greedy text, and prints
# the timings.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
shared="${QOPT_SHARED:-$root/../shared}"
PROMPT="Once upon a time, there was a little dog named Max"
SCHEMES="fp32 w8 w4_g32 w8a8"
scheme_opts() {
  case "$1" in
    fp32) echo "--recipe fp32" ;;
    w8) echo "--recipe rtn --bits 8 --group-size 0" ;;
    w4_g32) echo "--recipe rtn --bits 4" ;;
    w8a8) echo "--recipe w8a8 --act-mode dynamic" ;;
  esac
}

prepare() {
  local dir="$1" qopt="$root/build/bin/qopt"
  local model="$shared/models/stories260K/stories260K.bin"
  mkdir -p "$dir"
  head -c 30000 "$shared/data/tinystories/sample.txt" > "$dir/calib.txt"
  cp "$shared/data/tinystories/sample.txt" "$dir/eval.txt"
  for s in $SCHEMES; do
    echo "== $s"
    # shellcheck disable=SC2046
    "$qopt" compile "$model" -o "$dir/$s.mlir" $(scheme_opts "$s") --calib "$dir/calib.txt" \
      --calib-samples 8 --calib-seqlen 64 > /dev/null 2>&1
    "$qopt" build "$dir/$s.mlir" -o "$dir/$s" --target=nvptx 2>&1 | grep -E "^(fused|wrote)"
    "$qopt" build "$dir/$s.mlir" -o "$dir/$s.cpu" --act-int8=false > /dev/null 2>&1
    "$qopt" logits "$dir/$s.mlir" -p "$PROMPT" -o "$dir/$s.ref.npy" 2> /dev/null
    "$dir/$s.cpu" -t 0 -n 200 > "$dir/$s.cpu_greedy.txt" 2> /dev/null
    rm -f "$dir/$s.cpu" "$dir/$s.cpu.qrtw" "$dir/$s.safetensors" "$dir/$s.mlir"
  done
  "$qopt" compile "$model" -o "$dir/kernels.mlir" --recipe fp32 --target=nvptx \
    --gpu-arch=sm_90a > /dev/null 2>&1
  rm -f "$dir/kernels.mlir" "$dir/kernels.safetensors" "$dir"/*.report.json "$dir"/*.tokenizer.bin
  cp "$root/build/bin/qrt-cuda-info" "$dir/"
  du -sh "$dir"
}

run() {
  local dir="$1" out="$2" work
  work="$(mktemp -d)"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$work/device.txt" 2>&1 || true
  for s in $SCHEMES; do
    echo "== $s"
    "$dir/$s" -p "$PROMPT" --logits "$work/$s.npy"
    # the same prompt (16 tokens) on the GEMVs alone: checks the GEMMs' path
    QRT_CUDA_GEMM_MIN=0 "$dir/$s" -p "$PROMPT" --logits "$work/$s.gemv.npy"
    "$dir/$s" -t 0 -n 200 > "$work/$s.greedy.txt" 2> "$work/$s.greedy.log"
    "$dir/$s" --ppl "$dir/eval.txt" | tee "$work/$s.ppl.txt"
    "$dir/$s" --bench | tee "$work/$s.bench.txt"
  done
  # (a failed check is reported in the results, not a reason to lose them)
  "$dir/qrt-cuda-info" --ptx "$dir/kernels.ptx" --bench-gemv --bench-gemm 2>&1 \
    | grep -v "loaded$" | tee "$work/gemv.txt" || true
  # a prefill-sized GEMM of a 1.1B model's MLP (5632 x 2048, 512 tokens)
  "$dir/qrt-cuda-info" --ptx "$dir/kernels.ptx" --bench-gemm 5632,2048,512 2>&1 \
    | grep -E "^qnt_|error" | tee -a "$work/gemv.txt" || true
  tar -C "$work" -cf "$out/results.tar" .
  rm -rf "$work"
}

compare() {
  local dir="$1" results="$2" work
  work="$(mktemp -d)"
  tar -C "$work" -xf "$results/results.tar"
  cat "$work/device.txt"
  local status=0
  for s in $SCHEMES; do
    for run in "$s" "$s.gemv"; do
    /usr/bin/python3 - "$work/$run.npy" "$dir/$s.ref.npy" "$run" <<'PY' || status=1
import sys
import numpy as np
got, ref, name = np.load(sys.argv[1]), np.load(sys.argv[2]), sys.argv[3]
rel = float(np.abs(got - ref).max() / np.abs(ref).max())
same = bool((got.argmax(1) == ref.argmax(1)).all())
ok = same if name.startswith("w8a8") else rel < 1e-3
print(f"{name}: logits max relative difference {rel:.2e}, argmax {'equal' if same else 'DIFFERS'}"
      f" -> {'ok' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
PY
    done
    if cmp -s "$work/$s.greedy.txt" "$dir/$s.cpu_greedy.txt"; then
      echo "$s: greedy text equals the CPU program's"
    else
      echo "$s: greedy text DIFFERS from the CPU program's"; status=1
    fi
    cat "$work/$s.ppl.txt" "$work/$s.bench.txt"
  done
  cat "$work/gemv.txt"
  grep -q "error" "$work/gemv.txt" && status=1
  rm -rf "$work"
  return $status
}

case "${1:-}" in
  prepare) prepare "$2" ;;
  run) run "$2" "$3" ;;
  compare) compare "$2" "$3" ;;
  *) echo "usage: $0 prepare DIR | run DIR OUT | compare DIR RESULTS_DIR" >&2; exit 2 ;;
esac
