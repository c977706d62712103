#include "sluice/formats/avro_container.h"

#include <arrow/util/compression.h>
#include <arrow/util/crc32.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>

namespace sluice::formats::avro {
namespace {

/// Snappy blocks end with the CRC-32 of the uncompressed data, big-endian.
constexpr size_t kCrcSize = 4;

/// Reads the varint that starts raw Snappy data: its uncompressed length.
bool SnappyLength(std::string_view data, uint64_t* length) {
  *length = 0;
  for (size_t i = 0; i < data.size() && i < 5; ++i) {
    auto byte = static_cast<uint8_t>(data[i]);
    *length |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> ContainerCodecNames() {
  return {"deflate", "null", "snappy", "zstandard"};
}

BlockCodec::~BlockCodec() = default;

Result<std::unique_ptr<BlockCodec>> BlockCodec::Make(std::string_view name) {
  std::unique_ptr<BlockCodec> codec(new BlockCodec());
  codec->name_ = std::string(name);
  if (name == "null" || name.empty()) {
    codec->name_ = "null";
    return codec;
  }
  if (name == "deflate") {
    // Avro's deflate is raw deflate (RFC 1951), without zlib's header.
    arrow::util::GZipCodecOptions options;
    options.gzip_format = arrow::util::GZipFormat::DEFLATE;
    SLUICE_ASSIGN_OR_RAISE(codec->codec_,
                           arrow::util::Codec::Create(arrow::Compression::GZIP, options));
  } else if (name == "snappy") {
    SLUICE_ASSIGN_OR_RAISE(codec->codec_, arrow::util::Codec::Create(arrow::Compression::SNAPPY));
    return codec;
  } else if (name == "zstandard") {
    SLUICE_ASSIGN_OR_RAISE(codec->codec_, arrow::util::Codec::Create(arrow::Compression::ZSTD));
  } else {
    return Status::Invalid(fmt::format("the Avro codec '{}' is not supported (known: {})", name,
                                       fmt::join(ContainerCodecNames(), ", ")));
  }
  SLUICE_ASSIGN_OR_RAISE(codec->decompressor_, codec->codec_->MakeDecompressor());
  return codec;
}

Status BlockCodec::Compress(std::string_view data, std::string* out) {
  if (!codec_) {
    out->assign(data);
    return Status::OK();
  }
  auto input = reinterpret_cast<const uint8_t*>(data.data());
  auto length = static_cast<int64_t>(data.size());
  out->resize(static_cast<size_t>(codec_->MaxCompressedLen(length, input)) + kCrcSize);
  SLUICE_ASSIGN_OR_RAISE(
      int64_t written,
      codec_->Compress(length, input, static_cast<int64_t>(out->size()),
                       reinterpret_cast<uint8_t*>(out->data())));
  out->resize(static_cast<size_t>(written));
  if (name_ == "snappy") {
    uint32_t crc = arrow::internal::crc32(0, data.data(), data.size());
    for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(crc >> shift));
  }
  return Status::OK();
}

bool BlockCodec::Decompress(std::string_view data, int64_t limit, std::string* out,
                            std::string* reason) {
  auto too_large = [&]() {
    *reason = fmt::format("the block decompresses to more than {} bytes", limit);
    return false;
  };
  if (!codec_) {
    out->assign(data);
    return true;
  }
  if (name_ == "snappy") {
    uint64_t length = 0;
    if (data.size() < kCrcSize || !SnappyLength(data.substr(0, data.size() - kCrcSize), &length)) {
      *reason = "the snappy block is damaged";
      return false;
    }
    if (length > static_cast<uint64_t>(limit)) return too_large();
    out->resize(length);
    auto written = codec_->Decompress(
        static_cast<int64_t>(data.size() - kCrcSize), reinterpret_cast<const uint8_t*>(data.data()),
        static_cast<int64_t>(length), reinterpret_cast<uint8_t*>(out->data()));
    if (!written.ok() || static_cast<uint64_t>(*written) != length) {
      *reason = fmt::format("the snappy block is damaged ({})",
                            written.ok() ? "short" : written.status().message());
      return false;
    }
    uint32_t expected = 0;
    for (size_t i = data.size() - kCrcSize; i < data.size(); ++i)
      expected = (expected << 8) | static_cast<uint8_t>(data[i]);
    if (arrow::internal::crc32(0, out->data(), out->size()) != expected) {
      *reason = "the snappy block's checksum does not match its data";
      return false;
    }
    return true;
  }
  if (!decompressor_->Reset().ok()) {
    *reason = "cannot reset the decompressor";
    return false;
  }
  // Grows the output, at most to one byte past the limit; false when it cannot grow.
  auto grow = [&]() {
    size_t size = std::min<size_t>(out->size() * 2, static_cast<size_t>(limit) + 1);
    if (size <= out->size()) return false;
    out->resize(size);
    return true;
  };
  out->resize(std::min<size_t>(std::max<size_t>(data.size() * 4, 4096), limit + 1));
  size_t read = 0;
  size_t written = 0;
  while (!decompressor_->IsFinished()) {
    if (written == out->size() && !grow()) return too_large();
    auto step = decompressor_->Decompress(
        static_cast<int64_t>(data.size() - read),
        reinterpret_cast<const uint8_t*>(data.data()) + read,
        static_cast<int64_t>(out->size() - written),
        reinterpret_cast<uint8_t*>(out->data()) + written);
    if (!step.ok()) {
      *reason = fmt::format("the {} block is damaged ({})", name_, step.status().message());
      return false;
    }
    read += static_cast<size_t>(step->bytes_read);
    written += static_cast<size_t>(step->bytes_written);
    if (written > static_cast<size_t>(limit)) return too_large();
    if (decompressor_->IsFinished()) break;
    bool progress = step->bytes_read > 0 || step->bytes_written > 0;
    if (step->need_more_output) {
      if (!progress && !grow()) return too_large();
      continue;
    }
    if (!progress || read == data.size()) {
      *reason = fmt::format("the {} block ends before its compressed data does", name_);
      return false;
    }
  }
  out->resize(written);
  return true;
}

}  // namespace sluice::formats::avro
