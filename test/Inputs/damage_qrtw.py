#!/usr/bin/env python3
"""Writes a damaged copy of a .qrtw for the loader's tests.

  damage_qrtw.py PYREF IN OUT MUTATION

Mutations that change bytes as corruption would (name, data-offset, shape,
tokenizer) leave the header's content hash as it was; structural ones
(wrap, f32-outliers, groups, zero-cols) recompute it so that the loader's
own field checks are what answer.
"""
import sys

sys.path.insert(0, sys.argv[1])
from qopt_ref import qrtw  # noqa: E402

src, dst, mutation = sys.argv[2:5]
data = bytearray(open(src, "rb").read())
slots = qrtw.slots(data)
f32 = next(i for i, s in enumerate(slots) if s["kind"] == qrtw.KIND_F32)
quant = next(i for i, s in enumerate(slots) if s["kind"] != qrtw.KIND_F32)
if mutation == "name":
    data[qrtw.slot_offset(quant)] ^= 0x20
elif mutation == "data-offset":
    qrtw.set_slot_field(data, quant, "data_offset", slots[quant]["data_offset"] + 64)
elif mutation == "shape":
    qrtw.set_slot_field(data, quant, "rows", slots[quant]["rows"] * 2)
elif mutation == "tokenizer":
    h = qrtw.header(data)
    data[h["tokenizer_offset"] + h["tokenizer_bytes"] // 2] ^= 0x01
elif mutation == "wrap":
    qrtw.set_slot_field(data, quant, "rows", 1 << 62)
    qrtw.rehash(data)
elif mutation == "f32-outliers":
    qrtw.set_slot_field(data, f32, "outliers", 5)
    qrtw.set_slot_field(data, f32, "outlier_index_offset", 1 << 63)
    qrtw.rehash(data)
elif mutation == "groups":
    qrtw.set_slot_field(data, quant, "groups_per_row", slots[quant]["cols"] + 1)
    qrtw.rehash(data)
elif mutation == "zero-cols":
    qrtw.set_slot_field(data, quant, "cols", 0)
    qrtw.rehash(data)
else:
    sys.exit(f"unknown mutation {mutation}")
open(dst, "wb").write(data)
