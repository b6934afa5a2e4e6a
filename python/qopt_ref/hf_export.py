"""Writes a llama2.c model as a Hugging Face Llama directory, the way HF's
conversion scripts do: q_proj/k_proj rows permuted for rotate-half rope."""
import json
import os

import numpy as np


def permute_for_rotate_half(w, n_heads):
    """HF's permute(): interleaved pairs (2j, 2j+1) -> (j, j + hd/2) per head."""
    rows, cols = w.shape
    return (w.reshape(n_heads, rows // n_heads // 2, 2, cols)
             .transpose(0, 2, 1, 3).reshape(rows, cols))


def to_dtype(a, dtype):
    """Returns (raw bytes, safetensors dtype name, the values as float32 after rounding)."""
    a = np.ascontiguousarray(a, dtype=np.float32)
    if dtype == "F32":
        return a.tobytes(), a
    if dtype == "F16":
        h = a.astype(np.float16)
        return h.tobytes(), h.astype(np.float32)
    if dtype == "BF16":
        bits = a.view(np.uint32).astype(np.uint64)
        rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
        back = (rounded.astype(np.uint32) << 16).view(np.float32)
        return rounded.tobytes(), back
    raise ValueError(dtype)


def write_safetensors_raw(path, items):
    """items: list of (name, safetensors dtype, shape, raw bytes), written
    through a temporary file and a rename."""
    header, offset = {}, 0
    for name, dtype, shape, raw in items:
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * ((8 - (len(text) + 8) % 8) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for item in items:
            f.write(item[3])
    os.replace(path + ".tmp", path)


def write_safetensors(path, tensors, dtype):
    """tensors: list of (name, float array), rounded to dtype."""
    write_safetensors_raw(path, [(name, dtype, arr.shape, to_dtype(arr, dtype)[0])
                                 for name, arr in tensors])


def write_safetensors_streamed(path, specs, dtype):
    """specs: list of (name, shape, make) where make() returns the float
    array; each is made, written and dropped in turn, so a file larger than
    memory can be written."""
    itemsize = {"F32": 4, "F16": 2, "BF16": 2}[dtype]
    header, offset = {}, 0
    for name, shape, _ in specs:
        size = int(np.prod(shape)) * itemsize
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header).encode()
    text += b" " * ((8 - (len(text) + 8) % 8) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for name, shape, make in specs:
            raw, _ = to_dtype(make(), dtype)
            assert len(raw) == header[name]["data_offsets"][1] - header[name]["data_offsets"][0]
            f.write(raw)
    os.replace(path + ".tmp", path)


def hf_tensors(cfg, w):
    """(HF name, array) pairs for a llama2.c weight dict from llama.read_llama2c."""
    out = [("model.embed_tokens.weight", w["tok"]), ("model.norm.weight", w["rms_final"])]
    for l in range(cfg.n_layers):
        p = f"model.layers.{l}."
        out += [
            (p + "input_layernorm.weight", w["rms_att"][l]),
            (p + "post_attention_layernorm.weight", w["rms_ffn"][l]),
            (p + "self_attn.q_proj.weight", permute_for_rotate_half(w["wq"][l], cfg.n_heads)),
            (p + "self_attn.k_proj.weight", permute_for_rotate_half(w["wk"][l], cfg.n_kv_heads)),
            (p + "self_attn.v_proj.weight", w["wv"][l]),
        ] + ([
            (p + "self_attn.q_proj.bias",
             permute_for_rotate_half(w["bq"][l][:, None], cfg.n_heads)[:, 0]),
            (p + "self_attn.k_proj.bias",
             permute_for_rotate_half(w["bk"][l][:, None], cfg.n_kv_heads)[:, 0]),
            (p + "self_attn.v_proj.bias", w["bv"][l]),
        ] if "bq" in w else []) + [
            (p + "self_attn.o_proj.weight", w["wo"][l]),
            (p + "mlp.gate_proj.weight", w["w1"][l]),
            (p + "mlp.down_proj.weight", w["w2"][l]),
            (p + "mlp.up_proj.weight", w["w3"][l]),
        ]
    if not cfg.tied:
        out.append(("lm_head.weight", w["cls"]))
    return out


def config_json(cfg, dtype):
    """config.json as the Hub writes it; cfg.hf_extra (an architecture's own
    fields) overrides the Llama ones."""
    base = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "hidden_size": cfg.dim, "intermediate_size": cfg.hidden_dim,
        "num_hidden_layers": cfg.n_layers, "num_attention_heads": cfg.n_heads,
        "num_key_value_heads": cfg.n_kv_heads, "vocab_size": cfg.vocab_size,
        "max_position_embeddings": cfg.seq_len, "rms_norm_eps": 1e-5,
        "rope_theta": cfg.rope_theta, "tie_word_embeddings": cfg.tied, "hidden_act": "silu",
        "torch_dtype": {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[dtype],
        "rope_scaling": cfg.rope_scaling,
    }
    if getattr(cfg, "explicit_head_dim", None):
        base["head_dim"] = cfg.explicit_head_dim
    base.update(getattr(cfg, "hf_extra", {}))
    return base


def export(cfg, w, out_dir, dtype="F32", shards=1, tokenizer=None):
    """Writes config.json and model.safetensors (or N shards plus an index)."""
    os.makedirs(out_dir, exist_ok=True)
    tensors = hf_tensors(cfg, w)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config_json(cfg, dtype), f, indent=2)
    if shards == 1:
        write_safetensors(os.path.join(out_dir, "model.safetensors"), tensors, dtype)
    else:
        weight_map = {}
        for s in range(shards):
            part = tensors[s::shards]
            name = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
            write_safetensors(os.path.join(out_dir, name), part, dtype)
            weight_map.update({n: name for n, _ in part})
        with open(os.path.join(out_dir, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {}, "weight_map": weight_map}, f, indent=2)
    if tokenizer:
        with open(tokenizer, "rb") as src, open(os.path.join(out_dir, "tokenizer.bin"), "wb") as dst:
            dst.write(src.read())


def rounded_weights(w, dtype):
    """The llama2.c weight dict as the HF checkpoint of `dtype` stores it."""
    return {k: to_dtype(v, dtype)[1].reshape(np.shape(v)) for k, v in w.items()}
