#!/usr/bin/env bash
# Configures and builds qopt into build/ (Release).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release > "$root/build.log" 2>&1 \
  || { cat "$root/build.log"; exit 1; }
cmake --build "$root/build" -j "$(nproc)"
