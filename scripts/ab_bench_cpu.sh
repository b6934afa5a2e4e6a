#!/usr/bin/env bash
# Side-by-side CPU speed of two checkouts, alternating, for changes that
# must not move the figures (this VM's bandwidth drifts between runs, so a
# before/after comparison is only fair run against run).
#
#   bash scripts/ab_bench_cpu.sh BASE_TREE NEW_TREE [RUNS] [bench_cpu.py options]
#
# Each tree must be built (build/bin/qopt) and have ../shared beside it; the
# checkpoints are synthesized once into a shared work folder. Prints each
# run's bench_cpu.py table, labelled with the tree's commit.
set -euo pipefail
base="$1" new="$2" runs="${3:-3}"
shift $(( $# < 3 ? $# : 3 ))
opts=("$@")
[ ${#opts[@]} -gt 0 ] || opts=(--models stories110M --schemes "fp32,w8 per-channel,w4 g32,w4 g128")
work="${AB_WORK:-/tmp/qopt-ab-bench}"
mkdir -p "$work"
for i in $(seq "$runs"); do
  for tree in "$base" "$new"; do
    echo "=== run $i: $tree ($(git -C "$tree" rev-parse --short HEAD))"
    /usr/bin/python3 "$tree/scripts/bench_cpu.py" "${opts[@]}" --no-compare --work "$work" 2>&1 | grep '^|'
  done
done
