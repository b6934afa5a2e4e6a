"""GPT-2's byte-level BPE encoder, transcribed from OpenAI's published
encoder.py (gpt-2/src/encoder.py): the pre-tokenizer regex on the `regex`
module, the byte-to-unicode table, and the rank-ordered merge of a word's
pairs. Vocabulary and merges come from a Hugging Face tokenizer.json.

Hugging Face's added tokens (matched whole before the regex runs,
leftmost-longest) are a separate, optional step: `added=True`.
"""
import json

import regex as re

PATTERN = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(2 ** 8):
        if b not in bs:
            bs.append(b)
            cs.append(2 ** 8 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def get_pairs(word):
    return {(word[i], word[i + 1]) for i in range(len(word) - 1)}


class Encoder:
    def __init__(self, tokenizer_json):
        with open(tokenizer_json, encoding="utf-8") as f:
            j = json.load(f)
        self.encoder = j["model"]["vocab"]
        merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m)
                  for m in j["model"]["merges"]]
        self.bpe_ranks = dict(zip(merges, range(len(merges))))
        self.byte_encoder = bytes_to_unicode()
        self.added = {t["content"]: t["id"] for t in j.get("added_tokens", [])}
        self.cache = {}

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = tuple(token)
        pairs = get_pairs(word)
        if not pairs:
            return [token]
        while True:
            bigram = min(pairs, key=lambda pair: self.bpe_ranks.get(pair, float("inf")))
            if bigram not in self.bpe_ranks:
                break
            first, second = bigram
            new_word = []
            i = 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                    new_word.extend(word[i:j])
                    i = j
                except ValueError:
                    new_word.extend(word[i:])
                    break
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new_word.append(first + second)
                    i += 2
                else:
                    new_word.append(word[i])
                    i += 1
            word = tuple(new_word)
            if len(word) == 1:
                break
            pairs = get_pairs(word)
        self.cache[token] = list(word)
        return list(word)

    def encode_plain(self, text):
        ids = []
        for token in re.findall(PATTERN, text):
            token = "".join(self.byte_encoder[b] for b in token.encode("utf-8"))
            ids.extend(self.encoder[t] for t in self.bpe(token))
        return ids

    def encode(self, text, added=False):
        if not added or not self.added:
            return self.encode_plain(text)
        ids, at, start = [], 0, 0
        while at < len(text):  # leftmost-longest added token
            best = max((t for t in self.added if text.startswith(t, at)), key=len, default=None)
            if best is None:
                at += 1
                continue
            ids.extend(self.encode_plain(text[start:at]))
            ids.append(self.added[best])
            at += len(best)
            start = at
        ids.extend(self.encode_plain(text[start:]))
        return ids
