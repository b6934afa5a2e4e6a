"""The .qrtw layout (runtime/include/qrt_format.h), for tests that inspect or
deliberately damage a weights file. Written from the header, not shared
with the C code."""
import struct

MAGIC = b"QRTW0003"
NAME_LEN = 48
# header: magic[8], file_bytes, program_hash, num_slots (u32), reserved (u32),
# tokenizer_offset, tokenizer_bytes, content_hash
HEADER = struct.Struct("<8sQQIIQQQ")
# slot: name[48], kind, format, bits, symmetric, scales_f32, flags (u32);
# rows, cols, group_width, groups_per_row, outliers (i64); data_offset,
# data_bytes, scales_offset, zeros_offset, outlier_index_offset,
# outlier_weight_offset (u64)
SLOT = struct.Struct("<48s6I5q6Q")
SLOT_FIELDS = ("name", "kind", "format", "bits", "symmetric", "scales_f32", "flags", "rows",
               "cols", "group_width", "groups_per_row", "outliers", "data_offset",
               "data_bytes", "scales_offset", "zeros_offset", "outlier_index_offset",
               "outlier_weight_offset")
KIND_F32, KIND_Q4, KIND_CODES = 1, 2, 3


def fnv1a(data, h=1469598103934665603):
    for b in data:
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def header(data):
    return dict(zip(("magic", "file_bytes", "program_hash", "num_slots", "reserved",
                     "tokenizer_offset", "tokenizer_bytes", "content_hash"),
                    HEADER.unpack_from(data, 0)))


def slot_offset(i):
    return HEADER.size + i * SLOT.size


def slots(data):
    n = header(data)["num_slots"]
    return [dict(zip(SLOT_FIELDS, SLOT.unpack_from(data, slot_offset(i)))) for i in range(n)]


def set_slot_field(data, i, field, value):
    """Overwrites one field of slot i in the bytearray `data`."""
    fmt = {"name": "48s"}.get(field)
    offsets, at = {}, 0
    for f, code in zip(SLOT_FIELDS, ["48s"] + ["I"] * 6 + ["q"] * 5 + ["Q"] * 6):
        offsets[f] = (at, code)
        at += struct.calcsize("<" + code)
    off, code = offsets[field]
    struct.pack_into("<" + (fmt or code), data, slot_offset(i) + off, value)


def rehash(data):
    """Recomputes the header's content_hash of a (modified) bytearray, as the
    writer does, so that a test reaches the loader's structural checks."""
    h = header(data)
    table = data[HEADER.size:HEADER.size + h["num_slots"] * SLOT.size]
    tok = data[h["tokenizer_offset"]:h["tokenizer_offset"] + h["tokenizer_bytes"]]
    struct.pack_into("<Q", data, HEADER.size - 8, fnv1a(tok, fnv1a(table)))
