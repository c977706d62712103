// The Avro object container writer: the header holds the schema avro_schema.cc derives from the
// Arrow schema and the codec; rows are encoded by avro_datum.cc into blocks of about
// kBlockBytes, each compressed and followed by the file's sync marker.

#include <arrow/array.h>
#include <arrow/io/interfaces.h>
#include <arrow/record_batch.h>
#include <arrow/type.h>
#include <fmt/format.h>

#include <random>

#include "sluice/formats/avro_container.h"
#include "sluice/formats/avro_datum.h"
#include "sluice/formats/avro_schema.h"
#include "sluice/formats/writers_internal.h"

namespace sluice::formats::internal {
namespace {

/// A block is written once its encoded rows reach this size: large enough to compress well,
/// small enough that readers hold little of it.
constexpr size_t kBlockBytes = 256 << 10;

class AvroWriter final : public RecordWriter {
 public:
  AvroWriter(std::shared_ptr<arrow::io::OutputStream> stream,
             std::shared_ptr<const avro::AvroNode> record, std::unique_ptr<avro::BlockCodec> codec)
      : stream_(std::move(stream)), record_(std::move(record)), codec_(std::move(codec)) {}

  Status WriteHeader() {
    std::random_device random;
    std::mt19937_64 generator(random());
    for (size_t i = 0; i < avro::kSyncSize; ++i)
      sync_.push_back(static_cast<char>(generator() & 0xff));
    std::string header(avro::kContainerMagic);
    avro::AppendLong(2, &header);
    auto entry = [&](std::string_view key, std::string_view value) {
      avro::AppendLong(static_cast<int64_t>(key.size()), &header);
      header.append(key);
      avro::AppendLong(static_cast<int64_t>(value.size()), &header);
      header.append(value);
    };
    entry("avro.schema", avro::SchemaJson(*record_));
    entry("avro.codec", codec_->name());
    avro::AppendLong(0, &header);
    header += sync_;
    return stream_->Write(header);
  }

  Status Write(const arrow::RecordBatch& batch) override {
    SLUICE_ASSIGN_OR_RAISE(arrow::ArrayVector columns,
                           avro::CastForEncoding(*record_, batch.columns()));
    for (int64_t row = 0; row < batch.num_rows(); ++row) {
      for (size_t i = 0; i < columns.size(); ++i) {
        Status encoded = avro::EncodeValue(*record_->children[i], *columns[i], row, &block_);
        if (!encoded.ok())
          return Status::Invalid(fmt::format("cannot write field '{}' as Avro: {}",
                                             record_->names[i], encoded.message()));
      }
      ++block_rows_;
      if (block_.size() >= kBlockBytes) SLUICE_RETURN_NOT_OK(Flush());
    }
    return Status::OK();
  }

  Status Close() override {
    SLUICE_RETURN_NOT_OK(Flush());
    return stream_->Close();
  }

 private:
  Status Flush() {
    if (block_rows_ == 0) return Status::OK();
    SLUICE_RETURN_NOT_OK(codec_->Compress(block_, &compressed_));
    std::string head;
    avro::AppendLong(block_rows_, &head);
    avro::AppendLong(static_cast<int64_t>(compressed_.size()), &head);
    SLUICE_RETURN_NOT_OK(stream_->Write(head));
    SLUICE_RETURN_NOT_OK(stream_->Write(compressed_));
    SLUICE_RETURN_NOT_OK(stream_->Write(sync_));
    block_.clear();
    block_rows_ = 0;
    return Status::OK();
  }

  std::shared_ptr<arrow::io::OutputStream> stream_;
  std::shared_ptr<const avro::AvroNode> record_;
  std::unique_ptr<avro::BlockCodec> codec_;
  std::string sync_;
  std::string block_;
  std::string compressed_;
  int64_t block_rows_ = 0;
};

}  // namespace

Result<std::unique_ptr<RecordWriter>> OpenAvroWriter(
    std::shared_ptr<arrow::io::OutputStream> stream, const std::shared_ptr<arrow::Schema>& schema,
    const WriteOptions& options) {
  SLUICE_ASSIGN_OR_RAISE(auto record, avro::SchemaFromArrow(*schema));
  SLUICE_ASSIGN_OR_RAISE(auto codec, avro::BlockCodec::Make(options.avro_codec));
  auto writer =
      std::make_unique<AvroWriter>(std::move(stream), std::move(record), std::move(codec));
  SLUICE_RETURN_NOT_OK(writer->WriteHeader());
  return writer;
}

}  // namespace sluice::formats::internal
