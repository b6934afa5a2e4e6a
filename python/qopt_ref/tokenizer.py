"""llama2.c's tokenizer, transcribed literally (quadratic merge loop)."""
import struct


class Tokenizer:
    def __init__(self, path):
        with open(path, "rb") as f:
            data = f.read()
        self.max_len = struct.unpack_from("<i", data, 0)[0]
        at, self.pieces, self.scores = 4, [], []
        while at < len(data):
            score, n = struct.unpack_from("<fi", data, at)
            at += 8
            self.pieces.append(data[at:at + n])
            self.scores.append(score)
            at += n
        self.ids = {}
        for i, p in enumerate(self.pieces):
            self.ids.setdefault(p, i)

    def encode(self, text, bos=True):
        raw = text.encode("utf-8")
        tokens = []
        if raw:
            tokens.append(self.ids[b" "])
        i = 0
        while i < len(raw):
            n = 1
            while i + n < len(raw) and n < 4 and (raw[i + n] & 0xC0) == 0x80:
                n += 1
            piece = raw[i:i + n]
            if piece in self.ids:
                tokens.append(self.ids[piece])
            else:
                tokens.extend(b + 3 for b in piece)
            i += n
        while True:
            best, best_id, best_i = -1e10, -1, -1
            for i in range(len(tokens) - 1):
                merged = self.pieces[tokens[i]] + self.pieces[tokens[i + 1]]
                j = self.ids.get(merged)
                if j is not None and self.scores[j] > best:
                    best, best_id, best_i = self.scores[j], j, i
            if best_i < 0:
                break
            tokens[best_i:best_i + 2] = [best_id]
        return ([1] if bos else []) + tokens
