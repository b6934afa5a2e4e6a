#!/usr/bin/env bash
# Checks that a DenseKernels family object (passes/GPTQ/DenseKernelsFamily.cpp
# built with wider -m flags) defines no code the linker could merge with
# another object's copy: every defined code symbol is its own API or in its
# renamed Eigen namespace. Otherwise a std:: or Eigen:: inline function
# compiled for AVX-512 could be chosen for the portable path.
#
#   bash test/check_dense_symbols.sh FAMILY OBJECT
set -euo pipefail
family="$1"
object="$2"
[ -f "$object" ] || { echo "no object $object"; exit 1; }
defined=$(nm -C --defined-only "$object" | awk '$2 ~ /^[TtWwVvu]$/ {$1=""; print}')
count=$(printf '%s\n' "$defined" | grep -c "qopt::dense::$family::" || true)
[ "$count" -ge 5 ] || { echo "expected the family's 5 entry points, found $count"; exit 1; }
# code symbols only (T/W); V objects are typeinfo data, which carries no code
stray=$(printf '%s\n' "$defined" | awk '$1 ~ /^[TWu]$/' |
        grep -v -e "qopt::dense::$family::" -e "QoptEigen_$family::" || true)
if [ -n "$stray" ]; then
  echo "$object defines code outside its family that the linker may merge:"
  printf '%s\n' "$stray"
  exit 1
fi
echo "$family: $count entry points, nothing shared"
