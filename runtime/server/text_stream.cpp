// text_stream.cpp - see text_stream.h.
#include "text_stream.h"

#include <algorithm>

namespace qrt::server {

TextStream::TextStream(std::vector<std::string> stops) : stops_(std::move(stops)) {
  stops_.erase(std::remove(stops_.begin(), stops_.end(), std::string()), stops_.end());
}

bool TextStream::append(std::string_view piece) {
  if (stopped_)
    return true;
  text_.append(piece);
  size_t cut = std::string::npos;
  for (const auto &stop : stops_) {
    size_t from = searched_ + 1 > stop.size() ? searched_ + 1 - stop.size() : 0;
    size_t at = text_.find(stop, from);
    if (at != std::string::npos && at < cut)
      cut = at;
  }
  if (cut != std::string::npos) {
    text_.resize(std::max(cut, taken_)); // what was shown stays shown
    stopped_ = true;
    return true;
  }
  searched_ = text_.size();
  return false;
}

size_t TextStream::showable() const {
  if (stopped_)
    return text_.size();
  size_t hold = 0;
  for (const auto &stop : stops_)
    for (size_t k = std::min(stop.size() - 1, text_.size()); k > hold; --k)
      if (std::string_view(text_).substr(text_.size() - k) == std::string_view(stop).substr(0, k)) {
        hold = k;
        break;
      }
  return completeUtf8Prefix(std::string_view(text_).substr(0, text_.size() - hold));
}

std::string TextStream::take() {
  size_t end = std::max(showable(), taken_);
  std::string out = text_.substr(taken_, end - taken_);
  taken_ = end;
  return out;
}

std::string TextStream::takeRest() {
  std::string out = text_.substr(taken_);
  taken_ = text_.size();
  return out;
}

size_t completeUtf8Prefix(std::string_view text) {
  size_t n = text.size();
  // look back over at most 3 continuation bytes for the lead byte
  for (size_t back = 1; back <= 4 && back <= n; ++back) {
    unsigned char c = (unsigned char)text[n - back];
    if ((c & 0xC0) == 0x80)
      continue; // a continuation byte
    size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    return need > back && c >= 0xC0 && c < 0xF8 ? n - back : n;
  }
  return n; // only continuation bytes: not a character we can wait for
}

} // namespace qrt::server
