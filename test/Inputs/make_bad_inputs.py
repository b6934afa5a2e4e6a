"""Writes corrupt and inconsistent inputs for test/tools/bad-input.test.

usage: make_bad_inputs.py SHARED_DIR OUT_DIR
"""
import json
import os
import shutil
import struct
import sys

shared, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
model = os.path.join(shared, "models", "stories260K", "stories260K.bin")
with open(model, "rb") as f:
    good = f.read()


def write(name, data, mode="wb"):
    with open(os.path.join(out, name), mode) as f:
        f.write(data)


# llama2.c checkpoints.
write("truncated.bin", good[: len(good) // 2])
write("short.bin", good[:10])
lying = bytearray(good)
struct.pack_into("<i", lying, 0, 128)  # dim 64 -> 128: sizes no longer add up
write("lying.bin", bytes(lying))
zero_heads = bytearray(good)
struct.pack_into("<i", zero_heads, 12, 0)
write("zero-heads.bin", bytes(zero_heads))
nan = bytearray(good)
struct.pack_into("<f", nan, 28 + 4 * 100, float("nan"))
write("nan.bin", bytes(nan))
# Finite weights whose activations overflow: layer 0's attention norm weights
# near FLT_MAX make the input of wq/wk/wv infinite.
overflow = bytearray(good)
for i in range(64):
    struct.pack_into("<f", overflow, 28 + 4 * (512 * 64 + i), 3.0e38)
write("overflow.bin", bytes(overflow))
write("v2.bin", struct.pack("<Ii", 0x616B3432, 2) + good[:300])

# Hugging Face directories: a valid config.json and a broken safetensors.
config = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 172,
          "num_hidden_layers": 5, "num_attention_heads": 8, "num_key_value_heads": 4,
          "vocab_size": 512, "max_position_embeddings": 512, "rms_norm_eps": 1e-5,
          "tie_word_embeddings": True}


def hf_dir(name, cfg, safetensors_bytes):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        f.write(cfg if isinstance(cfg, str) else json.dumps(cfg))
    if safetensors_bytes is not None:
        with open(os.path.join(d, "model.safetensors"), "wb") as f:
            f.write(safetensors_bytes)


def safetensors(header, data=b""):
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


embed = {"model.embed_tokens.weight": {"dtype": "F32", "shape": [512, 64],
                                       "data_offsets": [0, 512 * 64 * 4]}}
hf_dir("hf-long-header", config, struct.pack("<Q", 1 << 20) + b"{}")
hf_dir("hf-offsets", config, safetensors(embed, b"\0" * 1000))
hf_dir("hf-dtype", config, safetensors(
    {"model.norm.weight": {"dtype": "F8_E4M3", "shape": [64], "data_offsets": [0, 64]}},
    b"\0" * 64))
hf_dir("hf-not-json", config, struct.pack("<Q", 5) + b"{abc}")
hf_dir("hf-missing-tensor", config, safetensors(
    {"model.norm.weight": {"dtype": "F32", "shape": [64], "data_offsets": [0, 256]}},
    b"\0" * 256))
hf_dir("hf-wrong-shape", config, safetensors(
    {"model.norm.weight": {"dtype": "F32", "shape": [32], "data_offsets": [0, 128]}},
    b"\0" * 128))
missing = dict(config)
del missing["intermediate_size"]
hf_dir("hf-missing-field", missing, None)
inconsistent = dict(config, num_attention_heads=6)
hf_dir("hf-inconsistent", inconsistent, None)
gqa = dict(config, num_key_value_heads=3)
hf_dir("hf-bad-gqa", gqa, None)
hf_dir("hf-bad-json", "{\"hidden_size\": 64,", None)
hf_dir("hf-no-weights", config, None)
# config.json fields of the wrong JSON type, or out of range.
hf_dir("hf-type-bool", dict(config, tie_word_embeddings="yes"), None)
hf_dir("hf-type-int", dict(config, hidden_size="64"), None)
hf_dir("hf-type-float", dict(config, rms_norm_eps="small"), None)
hf_dir("hf-type-string", dict(config, model_type=7), None)
hf_dir("hf-type-act", dict(config, hidden_act=["silu"]), None)
hf_dir("hf-huge-int", '{"model_type": "llama", "hidden_size": 18446744073709551615}', None)
hf_dir("hf-fraction", dict(config, num_key_value_heads=2.5), None)
hf_dir("hf-huge-float", dict(config, rope_theta=1e300), None)

# Text and IR.
write("empty.txt", b"")
write("blank.txt", b"\n\n   \n")
write("short.txt", b"Once upon a time.\n")
write("malformed.mlir", b"module {\n  func.func @forward( {\n}\n")
write("no-params.mlir", b"module {\n}\n")

# A small parameter file for the qnt-check-params lit test.
norm = struct.pack("<4f", 1, 1, 1, 1)
write("params.safetensors", safetensors(
    {"norm": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, norm))

# A tokenizer that does not match the model (the 32000-token Llama-2 one).
shutil.copy(os.path.join(shared, "models", "llama2-tokenizer", "tokenizer.bin"),
            os.path.join(out, "llama2-tokenizer.bin"))
