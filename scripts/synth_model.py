#!/usr/bin/python3
"""Write a synthetic checkpoint in a real model's shape: llama2.c (v0) or Hugging Face.

  /usr/bin/python3 scripts/synth_model.py --shape stories110M -o build/synth/s110m.bin
  /usr/bin/python3 scripts/synth_model.py --shape stories15M --format hf --dtype bf16 -o DIR

The Hugging Face form (DIR/config.json + DIR/model.safetensors, q/k rows
permuted for rotate-half rope as HF's conversion does) holds the same model
as the llama2.c file of the same --seed, so both import to the same logits
(up to the --dtype rounding).

Random Gaussian weights (std 1/sqrt(fan_in)), norms near 1, and a few
planted outlier input channels (norm weights x20 on 1% of channels, as the
LLM.int8 paper observes in real models) so quantization has something to
fight. Deterministic for a --seed. For speed and scale work only: the text it
generates is noise.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np

SHAPES = {
    # dim, hidden, layers, heads, kv_heads, vocab, seq_len
    "tiny": (64, 128, 2, 4, 2, 512, 64),  # for tests; vocab of shared tok512.bin
    # for tests: head_dim 64 (the runtime's block attention) and 4 query
    # heads per KV head
    "tiny-gqa": (256, 256, 2, 4, 1, 512, 64),
    "stories15M": (288, 768, 6, 6, 6, 32000, 256),
    "stories110M": (768, 2048, 12, 12, 12, 32000, 1024),
    "tinyllama-1.1B": (2048, 5632, 22, 32, 4, 32000, 2048),
    "llama2-7B": (4096, 11008, 32, 32, 32, 32000, 4096),
}


# config.json fields an architecture adds (the weights are the same, plus
# q/k/v biases for qwen2: attention_biases())
ARCHS = {
    "llama": lambda seq: {},
    "llama3": lambda seq: {
        "rope_theta": 500000.0,
        "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                         "high_freq_factor": 4.0,
                         "original_max_position_embeddings": 2 * seq}},
    # Mistral v0.1's form, with a window small enough that a test's prompt
    # goes past it
    "mistral": lambda seq: {
        "model_type": "mistral", "architectures": ["MistralForCausalLM"],
        "sliding_window": 8},
    # Qwen2 as the Hub ships it: sliding_window present but off
    "qwen2": lambda seq: {
        "model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"], "rope_theta": 1000000.0,
        "rms_norm_eps": 1e-6, "use_sliding_window": False, "sliding_window": 4 * seq,
        "max_window_layers": 2},
}


TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                   "generation_config.json"]


def tokenizer_size(directory):
    """The vocabulary a model of this tokenizer has: its ids, padded to 64."""
    import json
    with open(os.path.join(directory, "tokenizer.json"), encoding="utf-8") as f:
        j = json.load(f)
    ids = list(j["model"]["vocab"].values()) + [t["id"] for t in j.get("added_tokens", [])]
    return (max(ids) + 1 + 63) // 64 * 64


def attention_biases(seed, cfg):
    """Qwen2's q/k/v biases for a --seed, in llama2.c row order (interleaved
    rope pairs; hf_export permutes q and k as it does their rows)."""
    rng = np.random.default_rng(seed + 7919)
    kv_dim = cfg.n_kv_heads * cfg.head_dim
    return {"bq": 0.5 * rng.standard_normal((cfg.n_layers, cfg.n_heads * cfg.head_dim))
            .astype(np.float32),
            "bk": 0.5 * rng.standard_normal((cfg.n_layers, kv_dim)).astype(np.float32),
            "bv": 0.5 * rng.standard_normal((cfg.n_layers, kv_dim)).astype(np.float32)}


def attention_weights(seed, cfg, head_dim):
    """q/k/v/o projections for an explicit head_dim (config.json's, as
    Mistral-Nemo's 128 with hidden 5120 and 32 heads): q is n_heads * head_dim
    wide, not dim. Deterministic for a --seed; llama2.c row order."""
    rng = np.random.default_rng(seed + 104729)
    q_dim, kv_dim = cfg.n_heads * head_dim, cfg.n_kv_heads * head_dim

    def mat(rows, cols):
        return (rng.standard_normal((cfg.n_layers, rows, cols)) / np.sqrt(cols)).astype(np.float32)
    return {"wq": mat(q_dim, cfg.dim), "wk": mat(kv_dim, cfg.dim), "wv": mat(kv_dim, cfg.dim),
            "wo": mat(cfg.dim, q_dim)}


def read_model(args):
    """(Config, weights) of the model a Hugging Face synth of these options
    holds, in llama2.c naming and row order: for tests' float64 references."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
    from qopt_ref import llama
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        staging = os.path.join(d, "m.bin")
        write_llama2c(argparse.Namespace(**{**vars(args), "output": staging}))
        cfg, w = llama.read_llama2c(staging)
    if args.head_dim:
        cfg.explicit_head_dim = args.head_dim
        w.update(attention_weights(args.seed, cfg, args.head_dim))
    if args.arch == "qwen2":
        w.update(attention_biases(args.seed, cfg))
    extra = ARCHS[args.arch](cfg.seq_len)
    cfg.rope_theta = extra.get("rope_theta", cfg.rope_theta)
    cfg.norm_eps = extra.get("rms_norm_eps", cfg.norm_eps)
    cfg.rope_scaling = extra.get("rope_scaling", cfg.rope_scaling)
    return cfg, w


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shape", choices=sorted(SHAPES), required=True)
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--format", choices=["llama2c", "hf"], default="llama2c")
    ap.add_argument("--dtype", choices=["f32", "f16", "bf16"], default="f32",
                    help="Hugging Face tensor dtype (llama2.c files are f32)")
    ap.add_argument("--arch", choices=sorted(ARCHS), default="llama",
                    help="Hugging Face form: llama3 adds rope_theta 500000 and Llama 3.1's "
                         "rope_scaling (an original context of twice the shape's, so that a "
                         "tiny head_dim meets all three of its frequency bands)")
    ap.add_argument("--shards", type=int, default=1,
                    help="Hugging Face form: split the weights over N safetensors files with a "
                         "model.safetensors.index.json, as the Hub does for large models")
    ap.add_argument("--tokenizer", metavar="DIR",
                    help="Hugging Face form: copy this directory's tokenizer files "
                         "(tokenizer.json, tokenizer_config.json, ...) and size the vocabulary "
                         "to its tokens, padded to a multiple of 64 as real models pad")
    ap.add_argument("--chat-template", metavar="FILE",
                    help="Hugging Face form, with --tokenizer: this template (e.g. one of "
                         "shared/hf/chat-templates/) as tokenizer_config.json's chat_template")
    ap.add_argument("--seq-len", type=int,
                    help="the context (max_position_embeddings) instead of the shape's")
    ap.add_argument("--head-dim", type=int,
                    help="Hugging Face form: an explicit head_dim other than dim / heads "
                         "(q_proj is heads * head_dim wide; new q/k/v/o weights)")
    ap.add_argument("--stream", action="store_true",
                    help="Hugging Face form: make and write one tensor at a time, for shapes "
                         "whose f32 weights do not fit in memory (llama2-7B needs it); the "
                         "weights are drawn alike but differ from the unstreamed ones")
    ap.add_argument("--untied", action="store_true",
                    help="a classifier of its own instead of the embedding table (as the "
                         "real TinyLlama; llama2.c files mark it with a negative vocab)")
    args = ap.parse_args(argv)
    args.vocab = None
    if args.tokenizer:
        if args.format != "hf":
            ap.error("--tokenizer needs --format hf")
        args.vocab = tokenizer_size(args.tokenizer)
    if args.chat_template and not args.tokenizer:
        ap.error("--chat-template needs --tokenizer")
    if args.head_dim is not None and (args.head_dim <= 0 or args.head_dim % 2):
        ap.error("--head-dim must be positive and even")
    if args.stream and (args.format != "hf" or args.arch == "qwen2" or args.head_dim):
        ap.error("--stream needs --format hf and a plain shape (no qwen2 biases, no --head-dim)")
    if args.format != "hf" and (args.arch != "llama" or args.shards != 1 or args.head_dim):
        ap.error("--arch, --shards and --head-dim need --format hf (llama2.c files are one "
                 "plain Llama)")
    return args


def reference_model(argv):
    """(Config, weights) of what `synth_model.py ARGV` writes, for tests."""
    return read_model(parse_args(argv))


def main():
    args = parse_args(sys.argv[1:])
    if args.format == "hf" and args.stream:
        write_hf_streamed(args)
    elif args.format == "hf":
        write_hf(args)
    else:
        write_llama2c(args)


def write_hf_streamed(args):
    """The Hugging Face form, tensor by tensor (one generator per tensor):
    memory holds one tensor, whatever the model's size."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
    from qopt_ref import hf_export
    import types
    dim, hidden, layers, heads, kv_heads, vocab, seq = SHAPES[args.shape]
    seq = args.seq_len or seq
    vocab = args.vocab or vocab
    kv_dim = kv_heads * (dim // heads)
    os.makedirs(os.path.abspath(args.output), exist_ok=True)

    def mat(index, rows, cols):
        def make():
            rng = np.random.default_rng([args.seed, index])
            return rng.standard_normal((rows, cols), dtype=np.float32) / np.float32(np.sqrt(cols))
        return make

    def norm(index):
        def make():
            rng = np.random.default_rng([args.seed, index])
            w = (1.0 + 0.1 * rng.standard_normal(dim, dtype=np.float32)).astype(np.float32)
            w[rng.choice(dim, size=max(1, dim // 100), replace=False)] *= 20.0
            return w
        return make

    specs = [("model.embed_tokens.weight", (vocab, dim), mat(0, vocab, dim)),
             ("model.norm.weight", (dim,), lambda: np.ones(dim, np.float32))]
    for l in range(layers):
        p = f"model.layers.{l}."
        base = 16 * (l + 1)
        specs += [(p + "input_layernorm.weight", (dim,), norm(base)),
                  (p + "post_attention_layernorm.weight", (dim,), norm(base + 1))]
        for i, (leaf, rows, cols) in enumerate([
                ("self_attn.q_proj", dim, dim), ("self_attn.k_proj", kv_dim, dim),
                ("self_attn.v_proj", kv_dim, dim), ("self_attn.o_proj", dim, dim),
                ("mlp.gate_proj", hidden, dim), ("mlp.down_proj", dim, hidden),
                ("mlp.up_proj", hidden, dim)]):
            specs.append((p + leaf + ".weight", (rows, cols), mat(base + 2 + i, rows, cols)))
    if args.untied:
        specs.append(("lm_head.weight", (vocab, dim), mat(1, vocab, dim)))
    cfg = types.SimpleNamespace(dim=dim, hidden_dim=hidden, n_layers=layers, n_heads=heads,
                                n_kv_heads=kv_heads, vocab_size=vocab, seq_len=seq,
                                rope_theta=10000.0, tied=not args.untied, rope_scaling=None,
                                hf_extra=ARCHS[args.arch](seq))
    dtype = args.dtype.upper()
    with open(os.path.join(args.output, "config.json"), "w") as f:
        json.dump(hf_export.config_json(cfg, dtype), f, indent=2)
    if args.shards == 1:
        hf_export.write_safetensors_streamed(os.path.join(args.output, "model.safetensors"),
                                             specs, dtype)
    else:
        weight_map = {}
        per = (len(specs) + args.shards - 1) // args.shards
        for s in range(args.shards):
            part = specs[s * per:(s + 1) * per]
            name = f"model-{s + 1:05d}-of-{args.shards:05d}.safetensors"
            hf_export.write_safetensors_streamed(os.path.join(args.output, name), part, dtype)
            weight_map.update({n: name for n, _, _ in part})
        with open(os.path.join(args.output, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {}, "weight_map": weight_map}, f, indent=2)
    copy_tokenizer(args)
    print(f"wrote {args.output}/config.json and {args.shards} safetensors file(s) ({args.dtype}, "
          f"{args.shape}, streamed)", file=sys.stderr)


def copy_tokenizer(args):
    """--tokenizer's files (and --chat-template) into the output directory."""
    if not args.tokenizer:
        return
    import shutil
    for name in TOKENIZER_FILES:
        if os.path.exists(os.path.join(args.tokenizer, name)):
            shutil.copyfile(os.path.join(args.tokenizer, name), os.path.join(args.output, name))
    if args.chat_template:
        config_path = os.path.join(args.output, "tokenizer_config.json")
        config = {}
        if os.path.exists(config_path):
            with open(config_path, encoding="utf-8") as f:
                config = json.load(f)
        with open(args.chat_template, encoding="utf-8") as f:
            config["chat_template"] = f.read()
        with open(config_path, "w", encoding="utf-8") as f:
            json.dump(config, f, ensure_ascii=False, indent=2)


def write_hf(args):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
    from qopt_ref import hf_export
    os.makedirs(os.path.abspath(args.output), exist_ok=True)
    cfg, w = read_model(args)
    cfg.hf_extra = ARCHS[args.arch](cfg.seq_len)
    hf_export.export(cfg, w, args.output, dtype=args.dtype.upper(), shards=args.shards)
    copy_tokenizer(args)
    weights = "model.safetensors" if args.shards == 1 else f"{args.shards} safetensors shards"
    print(f"wrote {args.output}/config.json, {weights} ({args.dtype})", file=sys.stderr)


def write_llama2c(args):
    dim, hidden, layers, heads, kv_heads, vocab, seq = SHAPES[args.shape]
    seq = getattr(args, "seq_len", None) or seq
    vocab = getattr(args, "vocab", None) or vocab
    head = dim // heads
    kv_dim = kv_heads * head
    rng = np.random.default_rng(args.seed)

    def mat(rows, cols):
        return (rng.standard_normal((rows, cols), dtype=np.float32) / np.sqrt(cols))

    def norm():
        w = (1.0 + 0.1 * rng.standard_normal(dim, dtype=np.float32)).astype(np.float32)
        outliers = rng.choice(dim, size=max(1, dim // 100), replace=False)
        w[outliers] *= 20.0
        return w

    tmp = args.output + ".tmp"
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(tmp, "wb") as f:
        f.write(struct.pack("<7i", dim, hidden, layers, heads, kv_heads,
                            -vocab if args.untied else vocab, seq))
        f.write(mat(vocab, dim).tobytes())
        f.write(np.stack([norm() for _ in range(layers)]).tobytes())
        for rows, cols in [(dim, dim), (kv_dim, dim), (kv_dim, dim), (dim, dim)]:
            for _ in range(layers):
                f.write(mat(rows, cols).tobytes())
        f.write(np.stack([norm() for _ in range(layers)]).tobytes())
        for rows, cols in [(hidden, dim), (dim, hidden), (hidden, dim)]:
            for _ in range(layers):
                f.write(mat(rows, cols).tobytes())
        f.write(np.ones(dim, np.float32).tobytes())
        f.write(np.zeros(seq * head, np.float32).tobytes())  # legacy freq_cis
        if args.untied:
            f.write(mat(vocab, dim).tobytes())
    os.replace(tmp, args.output)
    print(f"wrote {args.output} ({args.shape}: dim {dim}, hidden {hidden}, {layers} layers, "
          f"{heads} heads, {kv_heads} kv heads, vocab {vocab})", file=sys.stderr)


if __name__ == "__main__":
    main()
