#!/usr/bin/env python3
"""Prints facts about one f32 tensor of a safetensors file, for FileCheck:
its argmin and argmax over the flattened data, and min / max.

  show_param.py FILE.safetensors NAME
"""
import json
import struct
import sys

import numpy as np

path, name = sys.argv[1], sys.argv[2]
with open(path, "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
    entry = header[name]
    start, end = entry["data_offsets"]
    f.seek(8 + n + start)
    data = np.frombuffer(f.read(end - start), np.float32)
print(f"{name}: argmin={int(data.argmin())} argmax={int(data.argmax())} "
      f"min={data.min():.4g} max={data.max():.4g}")
