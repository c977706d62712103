#include "sluice/formats/utf8_text.h"

#include <arrow/util/utf8.h>
#include <gtest/gtest.h>

#include <random>

namespace sluice::formats {
namespace {

/// The oracle: Arrow's own UTF-8 validation.
bool ArrowSaysValid(std::string_view text) {
  arrow::util::InitializeUTF8();
  return arrow::util::ValidateUTF8(reinterpret_cast<const uint8_t*>(text.data()),
                                   static_cast<int64_t>(text.size()));
}

/// Undoes EscapeInvalidUtf8.
std::string Unescape(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == '\\') {
      out.push_back('\\');
      ++i;
    } else if (text[i] == '\\' && i + 3 < text.size() && text[i + 1] == 'x') {
      out.push_back(static_cast<char>(std::stoi(std::string(text.substr(i + 2, 2)), nullptr, 16)));
      i += 3;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

TEST(Utf8TextTest, TellsWellFormedSequences) {
  EXPECT_EQ(Utf8SequenceLength("a", 0), 1u);
  EXPECT_EQ(Utf8SequenceLength("\xC3\xA9", 0), 2u);          // é
  EXPECT_EQ(Utf8SequenceLength("\xE2\x82\xAC", 0), 3u);      // €
  EXPECT_EQ(Utf8SequenceLength("\xF0\x9F\x98\x80", 0), 4u);  // an emoji
  EXPECT_EQ(Utf8SequenceLength("\x80", 0), 0u);              // a stray continuation
  EXPECT_EQ(Utf8SequenceLength("\xC0\x80", 0), 0u);          // overlong NUL
  EXPECT_EQ(Utf8SequenceLength("\xE0\x80\x80", 0), 0u);      // overlong
  EXPECT_EQ(Utf8SequenceLength("\xED\xA0\x80", 0), 0u);      // a surrogate
  EXPECT_EQ(Utf8SequenceLength("\xF4\x90\x80\x80", 0), 0u);  // above U+10FFFF
  EXPECT_EQ(Utf8SequenceLength("\xE2\x82", 0), 0u);          // cut short
  EXPECT_EQ(Utf8SequenceLength("\xFF", 0), 0u);
}

TEST(Utf8TextTest, ReplacesEachInvalidByte) {
  EXPECT_EQ(ReplaceInvalidUtf8("caf\xE9!"), "caf\xEF\xBF\xBD!");
  EXPECT_EQ(ReplaceInvalidUtf8("\xE2\x82"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(ReplaceInvalidUtf8("ok \xE2\x82\xAC"), "ok \xE2\x82\xAC");
}

TEST(Utf8TextTest, EscapingLosesNothing) {
  EXPECT_EQ(EscapeInvalidUtf8("caf\xE9 \\x41 \xE2\x82\xAC"), "caf\\xe9 \\\\x41 \xE2\x82\xAC");
}

/// Random byte strings, most of them valid UTF-8 with a few bytes spoiled, checked against
/// Arrow's validation: the verdicts agree, replacing always gives valid UTF-8 and changes
/// nothing valid, and escaping always gives valid UTF-8 that unescapes to the input.
TEST(Utf8TextTest, AgreesWithArrowOnRandomBytes) {
  std::mt19937 random(20240302);
  const std::vector<std::string> pieces = {
      "a", "\\", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\xED\x9F\xBF", "\xEF\xBF\xBF"};
  for (int round = 0; round < 20000; ++round) {
    std::string text;
    int length = static_cast<int>(random() % 12);
    for (int i = 0; i < length; ++i) {
      if (random() % 5 == 0) {
        text.push_back(static_cast<char>(random() % 256));
      } else {
        text += pieces[random() % pieces.size()];
      }
    }
    ASSERT_EQ(IsValidUtf8(text), ArrowSaysValid(text)) << round;
    std::string replaced = ReplaceInvalidUtf8(text);
    ASSERT_TRUE(ArrowSaysValid(replaced)) << round;
    if (IsValidUtf8(text)) ASSERT_EQ(replaced, text);
    std::string escaped = EscapeInvalidUtf8(text);
    ASSERT_TRUE(ArrowSaysValid(escaped)) << round;
    ASSERT_EQ(Unescape(escaped), text) << round;
  }
}

}  // namespace
}  // namespace sluice::formats
