// text_stream.h - a reply's text as tokens add to it: stop strings end it
// (the stop string itself is not part of the reply, as in OpenAI's API), and
// what may be shown so far holds back any tail that could still become a
// stop string or that ends inside a UTF-8 character.
#ifndef QRT_SERVER_TEXT_STREAM_H
#define QRT_SERVER_TEXT_STREAM_H

#include <string>
#include <string_view>
#include <vector>

namespace qrt::server {

class TextStream {
public:
  explicit TextStream(std::vector<std::string> stops = {});
  /// Adds a token's text. True when a stop string now occurs: the text is
  /// cut where it starts and nothing more may be added.
  bool append(std::string_view piece);
  /// The text that can be shown and was not taken before.
  std::string take();
  /// Whether take() would return text now.
  bool ready() const { return showable() > taken_; }
  /// At the end of the reply: everything not taken yet.
  std::string takeRest();
  const std::string &text() const { return text_; }
  bool stopped() const { return stopped_; }

private:
  size_t showable() const;
  std::vector<std::string> stops_;
  std::string text_;
  size_t taken_ = 0;
  size_t searched_ = 0; // stop strings do not start before this offset
  bool stopped_ = false;
};

/// The length of the longest prefix of `text` that does not end inside a
/// UTF-8 character (a lead byte whose continuation bytes have not come).
size_t completeUtf8Prefix(std::string_view text);

} // namespace qrt::server

#endif
