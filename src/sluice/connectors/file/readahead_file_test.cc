#include "sluice/connectors/file/readahead_file.h"

#include <arrow/buffer.h>
#include <arrow/io/file.h>
#include <arrow/io/memory.h>
#include <gtest/gtest.h>

#include <string>

namespace sluice::connectors {
namespace {

std::string Text(int64_t size) {
  std::string text;
  for (int64_t i = 0; i < size; ++i) text += static_cast<char>('a' + i % 26);
  return text;
}

TEST(ReadaheadFileTest, SequentialReadsSeeEveryByteInOrder) {
  const std::string text = Text(10'000);
  auto inner = std::make_shared<arrow::io::BufferReader>(arrow::Buffer::FromString(text));
  ReadaheadFile file(inner);
  std::string seen;
  for (int64_t block : {1000, 1000, 3000, 1000, 1000, 5000, 1000}) {
    auto read = file.Read(block);
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    seen += (*read)->ToString();
  }
  EXPECT_EQ(seen, text);
  EXPECT_EQ(*file.Tell(), 10'000);
  EXPECT_EQ((*file.Read(100))->size(), 0);  // at the end
  // A seek and a read at a position go straight to the file.
  ASSERT_TRUE(file.Seek(26).ok());
  EXPECT_EQ((*file.Read(3))->ToString(), "abc");
  EXPECT_EQ((*file.ReadAt(27, 2))->ToString(), "bc");
  char bytes[4];
  EXPECT_EQ(*file.Read(4, bytes), 4);
  EXPECT_EQ(std::string(bytes, 4), "defg");
  EXPECT_EQ(*file.GetSize(), 10'000);
  ASSERT_TRUE(file.Close().ok());
  EXPECT_TRUE(file.closed());
}

TEST(ReadaheadFileTest, AFileClosedUnderneathIsAnError) {
  auto inner = std::make_shared<arrow::io::BufferReader>(arrow::Buffer::FromString(Text(4096)));
  ReadaheadFile file(inner);
  ASSERT_TRUE(file.Read(1024).ok());  // the next block is being fetched
  ASSERT_TRUE(inner->Close().ok());
  // The block fetched before the close may still be served; the one after it cannot be.
  (void)file.Read(1024);
  EXPECT_FALSE(file.Read(1024).ok());
}

}  // namespace
}  // namespace sluice::connectors
