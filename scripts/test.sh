#!/usr/bin/env bash
# Sets up, builds, and runs every test: GoogleTest units, lit suites, and the
# numpy reference comparisons. Needs ../shared beside the repository.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup.sh"
"$root/scripts/build.sh"
cd "$root/build"
ctest --output-on-failure -j "$(nproc)"
