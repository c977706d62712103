#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/common/status.h"

// What the Avro object container file's reader and writer share: its framing constants and
// the codecs that compress its blocks.

namespace arrow::util {
class Codec;
class Decompressor;
}  // namespace arrow::util

namespace sluice::formats::avro {

/// The first four bytes of every container file.
inline constexpr std::string_view kContainerMagic{"Obj\x01", 4};
/// The length of the sync marker that ends the header and every block.
inline constexpr size_t kSyncSize = 16;

/// The codec names the container reader and writer know, the writer's default first:
/// "deflate", "null", "snappy", "zstandard".
std::vector<std::string> ContainerCodecNames();

/// Compresses and decompresses the blocks of a container file with one codec. Used from one
/// thread at a time.
class BlockCodec {
 public:
  ~BlockCodec();
  /// A codec by its name in the file's "avro.codec" metadata; unknown ones are Status::Invalid.
  static Result<std::unique_ptr<BlockCodec>> Make(std::string_view name);

  const std::string& name() const { return name_; }

  /// Compresses a block's data into `out` (replacing its contents).
  Status Compress(std::string_view data, std::string* out);

  /// Decompresses a block's data into `out`; false with `reason` set when it is damaged or
  /// decompresses to more than `limit` bytes.
  bool Decompress(std::string_view data, int64_t limit, std::string* out, std::string* reason);

 private:
  BlockCodec() = default;

  std::string name_;
  std::unique_ptr<arrow::util::Codec> codec_;
  std::shared_ptr<arrow::util::Decompressor> decompressor_;
};

}  // namespace sluice::formats::avro
