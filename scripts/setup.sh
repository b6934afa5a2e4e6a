#!/usr/bin/env bash
# Installs the Debian packages qopt needs. Idempotent: a no-op when all are present.
set -euo pipefail
packages=(
  cmake ninja-build g++ git
  llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools clang-22 libclang-rt-22-dev
  nlohmann-json3-dev libgtest-dev libeigen3-dev
  libpcre2-dev libutf8proc-dev libcpp-httplib-dev
  python3 python3-numpy python3-sentencepiece python3-regex python3-jinja2
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi
echo "setup: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
