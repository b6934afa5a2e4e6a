//===- Tokenizer.cpp -------------------------------------------------------===//
#include "qopt/Support/Tokenizer.h"

#include "qopt/Support/Error.h"

#include "llvm/Support/MemoryBuffer.h"

#include <cstring>
#include <queue>

namespace qopt {

llvm::Expected<Tokenizer> Tokenizer::load(llvm::StringRef path, int64_t vocabSize) {
  auto bufferOr = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                              /*RequiresNullTerminator=*/false);
  if (!bufferOr)
    return makeError("cannot open tokenizer '" + path +
                     "': " + bufferOr.getError().message());
  llvm::StringRef data = (*bufferOr)->getBuffer();
  size_t at = 0;
  auto read = [&](void *dst, size_t n) {
    if (at + n > data.size())
      return false;
    std::memcpy(dst, data.data() + at, n);
    at += n;
    return true;
  };
  int32_t maxLen = 0;
  // the runtime's bound too (runtime/common/tokenizer.c)
  constexpr int32_t kMaxTokenLength = 4096;
  if (!read(&maxLen, 4) || maxLen <= 0 || maxLen > kMaxTokenLength)
    return makeError(path + ": not a llama2.c tokenizer (max_token_length " +
                     llvm::Twine(maxLen) + " is not in [1, 4096])");
  Tokenizer tok;
  while (at < data.size()) {
    float score;
    int32_t len;
    if (!read(&score, 4) || !read(&len, 4) || len < 0 || len > maxLen ||
        at + size_t(len) > data.size())
      return makeError(path + ": truncated or corrupt entry " +
                       llvm::Twine(tok.pieces.size()));
    tok.pieces.emplace_back(data.data() + at, size_t(len));
    tok.scores.push_back(score);
    at += size_t(len);
  }
  if (vocabSize <= 0) // caller does not know the model: take the file's size
    vocabSize = tok.vocabSize();
  if (tok.vocabSize() != vocabSize)
    return makeError(path + ": tokenizer has " + llvm::Twine(tok.vocabSize()) +
                     " tokens but the model's vocabulary has " + llvm::Twine(vocabSize) +
                     " (wrong tokenizer for this model?)");
  if (vocabSize < 3 + 256)
    return makeError(path + ": vocabulary of " + llvm::Twine(vocabSize) +
                     " is too small for byte fallback (needs 259)");
  for (size_t i = 0; i < tok.pieces.size(); ++i)
    tok.ids.emplace(tok.pieces[i], int32_t(i)); // first id wins on duplicates
  return tok;
}

std::vector<int32_t> Tokenizer::encode(llvm::StringRef text, bool bos, bool eos) const {
  std::vector<int32_t> initial;
  if (!text.empty()) {
    auto space = ids.find(" ");
    if (space != ids.end())
      initial.push_back(space->second); // SentencePiece's dummy prefix
  }
  // Split into UTF-8 code points; unknown ones fall back to their bytes.
  for (size_t i = 0; i < text.size();) {
    size_t len = 1;
    while (i + len < text.size() && len < 4 &&
           (static_cast<unsigned char>(text[i + len]) & 0xC0) == 0x80)
      ++len;
    auto it = ids.find(std::string(text.substr(i, len)));
    if (it != ids.end()) {
      initial.push_back(it->second);
    } else {
      for (size_t j = 0; j < len; ++j)
        initial.push_back(int32_t(static_cast<unsigned char>(text[i + j])) + 3);
    }
    i += len;
  }

  // Merge with a heap over adjacent pairs ordered by (score desc, position
  // asc) and a doubly linked list; stale heap entries are skipped. This picks
  // the same merge as the quadratic "best leftmost pair" loop of llama2.c.
  size_t n = initial.size();
  std::vector<int32_t> token = initial;
  std::vector<int64_t> prev(n), next(n);
  std::vector<bool> alive(n, true);
  for (size_t i = 0; i < n; ++i) {
    prev[i] = int64_t(i) - 1;
    next[i] = i + 1 < n ? int64_t(i + 1) : -1;
  }
  struct Candidate {
    float score;
    int64_t left, right;
    int32_t leftToken, rightToken, merged;
    bool operator<(const Candidate &o) const {
      if (score != o.score)
        return score < o.score;
      return left > o.left;
    }
  };
  std::priority_queue<Candidate> heap;
  auto consider = [&](int64_t left) {
    if (left < 0 || next[left] < 0)
      return;
    int64_t right = next[left];
    auto it = ids.find(pieces[token[left]] + pieces[token[right]]);
    if (it != ids.end())
      heap.push({scores[it->second], left, right, token[left], token[right], it->second});
  };
  for (size_t i = 0; i + 1 < n; ++i)
    consider(int64_t(i));
  while (!heap.empty()) {
    Candidate c = heap.top();
    heap.pop();
    if (!alive[c.left] || !alive[c.right] || next[c.left] != c.right ||
        token[c.left] != c.leftToken || token[c.right] != c.rightToken)
      continue;
    token[c.left] = c.merged;
    alive[c.right] = false;
    next[c.left] = next[c.right];
    if (next[c.right] >= 0)
      prev[next[c.right]] = c.left;
    consider(prev[c.left]);
    consider(c.left);
  }

  std::vector<int32_t> out;
  if (bos)
    out.push_back(kBos);
  for (int64_t i = n ? 0 : -1; i >= 0; i = next[i])
    out.push_back(token[i]);
  if (eos)
    out.push_back(kEos);
  return out;
}

std::string Tokenizer::decode(int32_t previous, int32_t token) const {
  if (token < 0 || token >= vocabSize())
    return "";
  llvm::StringRef piece = pieces[token];
  if (previous == kBos && piece.starts_with(" "))
    piece = piece.drop_front();
  unsigned byte;
  if (piece.size() == 6 && piece.starts_with("<0x") && piece.ends_with(">") &&
      !piece.substr(3, 2).getAsInteger(16, byte))
    return std::string(1, char(byte));
  return piece.str();
}

} // namespace qopt
