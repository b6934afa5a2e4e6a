// The server's reply text (runtime/server/text_stream.h): stop strings cut
// the reply where they start, also across token boundaries; a tail that
// may still become a stop string or ends inside a UTF-8 character is held
// back from a stream until it is decided.
#include "text_stream.h"

#include <gtest/gtest.h>

using qrt::server::completeUtf8Prefix;
using qrt::server::TextStream;

TEST(ServerTextStream, NoStopsShowsEverything) {
  TextStream s;
  EXPECT_FALSE(s.append("Once"));
  EXPECT_EQ(s.take(), "Once");
  EXPECT_FALSE(s.append(" upon"));
  EXPECT_EQ(s.take(), " upon");
  EXPECT_EQ(s.take(), "");
  EXPECT_EQ(s.text(), "Once upon");
}

TEST(ServerTextStream, StopStringAcrossTokensIsCutAndNeverShown) {
  TextStream s({"\n\nUser:"});
  EXPECT_FALSE(s.append("Hi there."));
  EXPECT_EQ(s.take(), "Hi there.");
  EXPECT_FALSE(s.append("\n"));
  EXPECT_EQ(s.take(), ""); // could be the stop string's start
  EXPECT_FALSE(s.append("\nUs"));
  EXPECT_EQ(s.take(), "");
  EXPECT_TRUE(s.append("er: more"));
  EXPECT_TRUE(s.stopped());
  EXPECT_EQ(s.take(), "");
  EXPECT_EQ(s.text(), "Hi there.");
  EXPECT_TRUE(s.append("ignored"));
  EXPECT_EQ(s.text(), "Hi there.");
}

TEST(ServerTextStream, HeldBackTailIsReleasedWhenItDiverges) {
  TextStream s({"END"});
  s.append("the E");
  EXPECT_EQ(s.take(), "the ");
  s.append("N");
  EXPECT_EQ(s.take(), "");
  s.append("D");
  EXPECT_TRUE(s.stopped());
  EXPECT_EQ(s.text(), "the ");
  TextStream t({"END"});
  t.append("the EN");
  t.append("JOY");
  EXPECT_FALSE(t.stopped());
  EXPECT_EQ(t.take(), "the ENJOY");
}

TEST(ServerTextStream, EarliestOfSeveralStopsWins) {
  TextStream s({"cat", "a c"});
  EXPECT_TRUE(s.append("I saw a cat"));
  EXPECT_EQ(s.text(), "I saw "); // "a c" starts before "cat"
}

TEST(ServerTextStream, StopInsideOnePiece) {
  TextStream s({"."});
  EXPECT_TRUE(s.append("Yes. No."));
  EXPECT_EQ(s.takeRest(), "Yes");
}

TEST(ServerTextStream, EmptyStopStringsAreIgnored) {
  TextStream s({""});
  EXPECT_FALSE(s.append("abc"));
  EXPECT_EQ(s.take(), "abc");
}

TEST(ServerTextStream, Utf8CharacterSplitOverTokensIsHeldWhole) {
  TextStream s;
  s.append("caf\xC3");
  EXPECT_EQ(s.take(), "caf");
  s.append("\xA9 \xE6\x9D");
  EXPECT_EQ(s.take(), "\xC3\xA9 ");
  s.append("\xB1");
  EXPECT_EQ(s.take(), "\xE6\x9D\xB1");
  s.append("\xF0\x9F\x99");
  EXPECT_EQ(s.take(), "");
  EXPECT_EQ(s.takeRest(), "\xF0\x9F\x99"); // the end: whatever is left
}

TEST(ServerTextStream, CompleteUtf8Prefix) {
  EXPECT_EQ(completeUtf8Prefix(""), 0u);
  EXPECT_EQ(completeUtf8Prefix("abc"), 3u);
  EXPECT_EQ(completeUtf8Prefix("a\xC3"), 1u);
  EXPECT_EQ(completeUtf8Prefix("a\xC3\xA9"), 3u);
  EXPECT_EQ(completeUtf8Prefix("a\xE6\x9D"), 1u);
  EXPECT_EQ(completeUtf8Prefix("a\xF0\x9F\x99\x82"), 5u);
  // bytes that can never complete are not waited for
  EXPECT_EQ(completeUtf8Prefix("a\xFF"), 2u);
  EXPECT_EQ(completeUtf8Prefix("\x80\x80"), 2u);
}
