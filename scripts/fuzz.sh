#!/usr/bin/env bash
# Builds the libFuzzer targets (test/fuzz/*.c, with clang-22, ASan and UBSan)
# into build/fuzz, seeds each from real files, and runs each for SECONDS
# (default 60), or for RUNS inputs from a fixed seed (--runs RUNS, what
# ctest does: the same inputs every time). Prints each target's executions
# and coverage; exits non-zero when a target finds a crash (the reproducer
# is left in build/fuzz/TARGET/crash-*).
#
#   bash scripts/fuzz.sh [SECONDS | --runs RUNS] [TARGET ...]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
shared="${QOPT_SHARED:-$root/../shared}"
limit=(-max_total_time="${1:-60}")
what="${1:-60} s"
if [ "${1:-}" = "--runs" ]; then
  limit=(-runs="$2" -seed=1)
  what="$2 inputs from seed 1"
  shift 2
else
  shift || true
fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(qrtw tokenizer checkpoint)
out="$root/build/fuzz"
mkdir -p "$out"
cc=/usr/lib/llvm-22/bin/clang
flags=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -I"$root/runtime/include" -I"$root/runtime/common" -I"$root/runtime/tokenizer")
common=("$root/runtime/common/weights_file.c" "$root/runtime/tokenizer/"*.c
        "$root/runtime/common/util.c")
# The checkpoint readers are C++ over LLVM's support library: the readers'
# own sources are compiled here, instrumented, and linked with libLLVM
# (built without RTTI, as the project is). qmath's storage of quantized
# weights (which names qnt attributes) comes from the build's own QntUtils
# and QntDialect archives, with libMLIR, uninstrumented.
cxx_sources=("$root/lib/Import/Llama2c.cpp" "$root/lib/Import/HuggingFace.cpp"
             "$root/lib/Import/ModelConfig.cpp" "$root/lib/Import/RopeScaling.cpp"
             "$root/lib/Import/HfTensorNames.cpp" "$root/lib/Import/ConfigFields.cpp"
             "$root/lib/Import/HfQuantized.cpp"
             "$root/lib/Support/SafeTensors.cpp" "$root/lib/Support/Gguf.cpp"
             "$root/lib/Support/GgufTokenizer.cpp" "$root/lib/Support/HfTokenizerJson.cpp"
             "$root/lib/Support/Qtok.cpp"
             "$root/lib/Support/TensorView.cpp" "$root/lib/Support/DType.cpp"
             "$root/lib/Support/ParameterStore.cpp")

build_target() {
  if [ -f "$root/test/fuzz/fuzz_$1.c" ]; then
    "$cc" "${flags[@]}" "$root/test/fuzz/fuzz_$1.c" "${common[@]}" -lpcre2-8 -l:libutf8proc.a -lm -o "$out/fuzz_$1"
  else
    "$cc++" -std=c++17 "${flags[@]}" -fno-rtti -fno-sanitize=vptr -I"$root/include" \
      -I"$root/dialects" -I"$root/build/dialects" -I/usr/lib/llvm-22/include \
      "$root/test/fuzz/fuzz_$1.cpp" "${cxx_sources[@]}" \
      "$root/build/dialects/Qnt/Utils/libQntUtils.a" "$root/build/dialects/Qnt/IR/libQntDialect.a" \
      -L/usr/lib/llvm-22/lib -lMLIR -lLLVM \
      -Wl,-rpath,/usr/lib/llvm-22/lib -o "$out/fuzz_$1"
  fi
}

seed_qrtw() {
  # the one-block test model, built: four slots and a tokenizer
  local work="$out/seed-model"
  mkdir -p "$work" "$1"
  cp "$root/test/Inputs/tiny-model.mlir" "$work/tiny.mlir"
  /usr/bin/python3 "$root/test/Inputs/make_params.py" --tiny "$work/tiny.safetensors"
  "$root/build/bin/qopt" build "$work/tiny.mlir" -o "$work/tiny" \
    --tokenizer "$shared/models/stories260K/tok512.bin" > /dev/null 2>&1
  { printf '\001'; cat "$work/tiny.qrtw"; } > "$1/trusting"
  { printf '\000'; cat "$work/tiny.qrtw"; } > "$1/strict"
  { printf '\001'; head -c 1024 "$work/tiny.qrtw"; } > "$1/table-only"
}

seed_checkpoint() {
  mkdir -p "$1"
  # 0: a tiny llama2.c checkpoint; 1: a safetensors file; 2: a config.json
  /usr/bin/python3 - "$1" <<'PY'
import json, os, struct, sys
out = sys.argv[1]
dim, hidden, layers, heads, kv, vocab, seq = 8, 16, 1, 2, 2, 16, 4
head = dim // heads
sizes = [vocab * dim, layers * dim, layers * dim * dim, layers * kv * head * dim,
         layers * kv * head * dim, layers * dim * dim, layers * dim, layers * hidden * dim,
         layers * dim * hidden, layers * hidden * dim, dim, seq * head // 2, seq * head // 2]
floats = [((i * 37) % 17 - 8) / 64.0 for i in range(sum(sizes))]
with open(os.path.join(out, "llama2c"), "wb") as f:
    f.write(b"\0" + struct.pack("<7i", dim, hidden, layers, heads, kv, vocab, seq))
    f.write(struct.pack(f"<{len(floats)}f", *floats))
header = {"norm": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
          "w": {"dtype": "BF16", "shape": [2, 2], "data_offsets": [16, 24]}}
text = json.dumps(header).encode()
with open(os.path.join(out, "safetensors"), "wb") as f:
    f.write(b"\1" + struct.pack("<Q", len(text)) + text + bytes(24))
config = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 172,
          "num_hidden_layers": 5, "num_attention_heads": 8, "num_key_value_heads": 4,
          "vocab_size": 512, "max_position_embeddings": 512, "rms_norm_eps": 1e-5,
          "tie_word_embeddings": True, "head_dim": 8, "rope_theta": 10000.0}
with open(os.path.join(out, "config"), "wb") as f:
    f.write(b"\2" + json.dumps(config).encode())

def gstr(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b
# 3: a GGUF with a three-token vocabulary and two tensors (F32, Q4_0)
kvs = [gstr("general.architecture") + struct.pack("<I", 8) + gstr("llama"),
       gstr("tokenizer.ggml.model") + struct.pack("<I", 8) + gstr("llama"),
       gstr("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, 3) +
       gstr("<unk>") + gstr("\u2581a") + gstr("<0x0A>"),
       gstr("tokenizer.ggml.scores") + struct.pack("<IIQ3f", 9, 6, 3, 0, -1, -2)]
infos = [gstr("norm") + struct.pack("<IQIQ", 1, 8, 0, 0),
         gstr("w") + struct.pack("<IQQIQ", 2, 32, 2, 2, 32)]
head = b"GGUF" + struct.pack("<IQQ", 3, len(infos), len(kvs)) + b"".join(kvs) + b"".join(infos)
head += bytes(-len(head) % 32)
with open(os.path.join(out, "gguf"), "wb") as f:
    f.write(b"\3" + head + struct.pack("<8f", *range(8)) + bytes(36))
PY
  # 6, 7: the tiny GPTQ and AWQ checkpoints fuzz_checkpoint.cpp's fixed
  # config.json describes, packed as AutoGPTQ and AutoAWQ pack them
  /usr/bin/python3 - "$1" "$root/python" <<'PY'
import os, sys
import numpy as np
sys.path.insert(0, sys.argv[2])
from qopt_ref.packed_quant import autogptq_pack, awq_pack, write_safetensors_arrays
out = sys.argv[1]
rng = np.random.default_rng(0)
shapes = {"q_proj": (32, 32), "k_proj": (32, 32), "v_proj": (32, 32), "o_proj": (32, 32),
          "gate_proj": (64, 32), "up_proj": (64, 32), "down_proj": (32, 64)}
for tag, method in ((6, "gptq"), (7, "awq")):
    t = {"model.embed_tokens.weight": ("F32", rng.standard_normal((16, 32))),
         "model.norm.weight": ("F32", np.ones(32)),
         "model.layers.0.input_layernorm.weight": ("F32", np.ones(32)),
         "model.layers.0.post_attention_layernorm.weight": ("F32", np.ones(32))}
    for leaf, (n, k) in shapes.items():
        base = "model.layers.0." + ("mlp." if "_proj" in leaf and leaf[0] in "gud" else "self_attn.") + leaf
        q = rng.integers(0, 16, (k, n))
        z = rng.integers(1, 16, (k // 16, n))
        qw, qz = awq_pack(q, z) if method == "awq" else autogptq_pack(q, z, 4)
        t[base + ".qweight"], t[base + ".qzeros"] = ("I32", qw), ("I32", qz)
        t[base + ".scales"] = ("F16", rng.uniform(0.01, 0.1, (k // 16, n)))
        if method == "gptq":
            t[base + ".g_idx"] = ("I32", np.arange(k) // 16)
    path = os.path.join(out, method + ".tmp")
    write_safetensors_arrays(path, t)
    with open(path, "rb") as f, open(os.path.join(out, method), "wb") as g:
        g.write(bytes([tag]) + f.read())
    os.remove(path)
PY
  # 4: a SentencePiece-style tokenizer.json; 5: the QTOK section it becomes
  write_tokenizer_jsons "$1"
  { printf '\004'; cat "$1/spm.dir/tokenizer.json"; } > "$1/tokenizer-json"
  "$root/build/bin/qopt" tokenize "$1/spm.dir/tokenizer.json" --save "$1/spm.qtok"
  { printf '\005'; tail -c +5 "$1/spm.qtok"; } > "$1/qtok"
  rm -r "$1/spm.dir" "$1/bytelevel.dir" "$1/spm.qtok"
}

# bytelevel.dir/ and spm.dir/ under DIR: one small tokenizer.json of each family
write_tokenizer_jsons() {
  mkdir -p "$1"
  /usr/bin/python3 - "$1" <<'PY'
import json, os, sys
out = sys.argv[1]
# GPT-2's byte-to-unicode map, for a byte-level vocabulary
bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
cs, n = bs[:], 0
for b in range(256):
    if b not in bs:
        bs.append(b); cs.append(256 + n); n += 1
chars = [chr(c) for c in cs]
vocab = {c: i for i, c in enumerate(chars)}
for piece in ["\u0120t", "he", "\u0120the", "in", "\u0120a"]:
    vocab[piece] = len(vocab)
byte_level = {
    "model": {"type": "BPE", "vocab": vocab, "ignore_merges": True,
              "merges": ["\u0120 t", "h e", "\u0120t he", "i n", "\u0120 a"]},
    "added_tokens": [{"id": len(vocab), "content": "<|end|>", "special": True,
                      "normalized": False, "rstrip": True}],
    "normalizer": None,
    "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "(?i:'s|'t)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+|\\s+"},
         "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "use_regex": False}]},
    "decoder": {"type": "ByteLevel"}}
spm_vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
for b in range(256):
    spm_vocab["<0x%02X>" % b] = len(spm_vocab)
for piece in ["\u2581", "a", "b", "\u2581a", "ab", "\u2581ab"]:
    spm_vocab[piece] = len(spm_vocab)
spm = {
    "model": {"type": "BPE", "vocab": spm_vocab, "byte_fallback": True, "fuse_unk": True,
              "unk_token": "<unk>", "merges": ["\u2581 a", "a b", "\u2581a b"]},
    "added_tokens": [{"id": 1, "content": "<s>", "special": True, "normalized": False}],
    "normalizer": {"type": "Sequence", "normalizers": [
        {"type": "Prepend", "prepend": "\u2581"},
        {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
    "pre_tokenizer": None,
    "decoder": {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
        {"type": "ByteFallback"}, {"type": "Fuse"},
        {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}}
for name, tok in [("bytelevel", byte_level), ("spm", spm)]:
    os.makedirs(os.path.join(out, name + ".dir"), exist_ok=True)
    with open(os.path.join(out, name + ".dir", "tokenizer.json"), "w") as f:
        json.dump(tok, f)
PY
}

seed_tokenizer() {
  mkdir -p "$1"
  # 0xFD 0x00: a vocabulary of 259 + 253 = 512 tokens, tok512.bin's
  { printf '\375\000'; cat "$shared/models/stories260K/tok512.bin"; printf '\377\000';
    printf 'Once upon a time, there was a little girl. caf\303\251 \342\202\254 \360\237\230\200'; } > "$1/tok512"
  # QTOK sections (what qopt makes of a tokenizer.json), one of each
  # family, small: written by qopt tokenize --save from tokenizer.json files
  # made here
  write_tokenizer_jsons "$1"
  for name in bytelevel spm; do
    "$root/build/bin/qopt" tokenize "$1/$name.dir/tokenizer.json" --save "$1/$name.qtok"
    { printf '\000\000'; cat "$1/$name.qtok"; printf '\377\000';
      printf "<|end|> the cat's 123 ab a b \342\202\254 <s>x"; } > "$1/$name"
    rm -r "$1/$name.dir" "$1/$name.qtok"
  done
}

status=0
for t in "${targets[@]}"; do
  echo "== fuzz_$t: building"
  build_target "$t"
  # inputs that once crashed it run first, every time
  regressions="$root/test/fuzz/regressions/$t"
  if [ -d "$regressions" ]; then
    echo "== fuzz_$t: $(ls "$regressions" | wc -l) regression inputs"
    if ! "$out/fuzz_$t" "$regressions"/* > "$out/regressions-$t.txt" 2>&1; then
      echo "fuzz_$t FAILED on a regression input:"
      tail -30 "$out/regressions-$t.txt"
      status=1
      continue
    fi
  fi
  corpus="$out/$t/corpus"
  if [ ! -d "$corpus" ]; then "seed_$t" "$corpus"; fi
  mkdir -p "$out/$t"
  echo "== fuzz_$t: $what"
  if (cd "$out/$t" && "$out/fuzz_$t" "${limit[@]}" -max_len=200000 \
        -print_final_stats=1 "$corpus" > log.txt 2>&1); then
    grep -aE "^#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss" "$out/$t/log.txt" || true
  else
    echo "fuzz_$t FAILED: see $out/$t/log.txt"
    tail -30 "$out/$t/log.txt"
    status=1
  fi
done
exit $status
