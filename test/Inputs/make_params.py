#!/usr/bin/env python3
"""Writes a small safetensors file of named f32 tensors, for lit tests of
passes on a few lines of IR.

  make_params.py OUT.safetensors NAME=D0xD1[:KIND] ...
  make_params.py --tiny OUT.safetensors    the parameters of tiny-model.mlir

KIND: randn (default; seeded by the name, so a tensor is the same in every
test), ones, or outlier (randn with input channel 3 scaled by 20: what
SmoothQuant, AWQ and LLM.int8 react to).
"""
import json
import struct
import sys
import zlib

import numpy as np


def tensor(name, spec):
    shape_text, _, kind = spec.partition(":")
    shape = [int(d) for d in shape_text.split("x")]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    if kind == "ones":
        return np.ones(shape, np.float32)
    data = rng.standard_normal(shape).astype(np.float32) * 0.2
    if kind == "outlier":
        data[..., 3] *= 20.0
    elif kind not in ("", "randn"):
        sys.exit(f"make_params.py: unknown kind '{kind}' for {name}")
    return data


TINY_MODEL = ["emb=512x32:outlier", "norm=32:ones", "w1=64x32", "w2=32x64"]


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    specs = sys.argv[2:]
    if sys.argv[1] == "--tiny":
        del sys.argv[1]
        specs = TINY_MODEL
    tensors = {}
    for arg in specs:
        name, _, spec = arg.partition("=")
        tensors[name] = tensor(name, spec)
    header, offset, blobs = {}, 0, []
    for name, t in tensors.items():
        blob = t.tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(sys.argv[1], "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


if __name__ == "__main__":
    main()
