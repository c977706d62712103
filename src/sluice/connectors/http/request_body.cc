#include "sluice/connectors/http/request_body.h"

#include <arrow/io/memory.h>
#include <arrow/record_batch.h>

#include <algorithm>

#include "sluice/exec/dead_letter.h"
#include "sluice/formats/record_writer.h"

namespace sluice::connectors::http {
namespace {

/// The CSV header line of `schema`, written by the CSV file writer so that it quotes as the
/// rows do.
Result<std::string> CsvHeader(const std::shared_ptr<arrow::Schema>& schema) {
  SLUICE_ASSIGN_OR_RAISE(auto stream, arrow::io::BufferOutputStream::Create(256));
  formats::WriteOptions options;
  options.header = true;
  SLUICE_ASSIGN_OR_RAISE(auto writer, formats::RecordWriter::Open(stream, formats::Format::kCsv,
                                                                  schema, options));
  SLUICE_ASSIGN_OR_RAISE(auto empty, arrow::RecordBatch::MakeEmpty(schema));
  SLUICE_RETURN_NOT_OK(writer->Write(*empty));
  SLUICE_RETURN_NOT_OK(writer->Close());
  SLUICE_ASSIGN_OR_RAISE(auto buffer, stream->Finish());
  std::string header = buffer->ToString();
  if (header.empty() || header.back() != '\n') header += '\n';
  return header;
}

}  // namespace

size_t RowsThatFit(const std::vector<int64_t>& ends, size_t begin, const Framing& framing,
                   int64_t max_rows, int64_t max_bytes) {
  const size_t total = ends.size();
  if (begin >= total) return 0;
  auto start = [&](size_t row) { return row == 0 ? int64_t{0} : ends[row - 1]; };
  const auto framing_bytes = static_cast<int64_t>(framing.prefix.size() + framing.suffix.size());
  const auto separator = static_cast<int64_t>(framing.separator.size());
  int64_t size = framing_bytes + ends[begin] - start(begin);
  size_t end = begin + 1;  // a row larger than max_bytes goes alone
  while (end < total && static_cast<int64_t>(end - begin) < max_rows) {
    int64_t grown = size + separator + ends[end] - start(end);
    if (grown > max_bytes) break;
    size = grown;
    ++end;
  }
  return end - begin;
}

Result<std::unique_ptr<PendingRows>> PendingRows::Make(
    BodyFormat format, const std::shared_ptr<arrow::Schema>& schema) {
  if (format == BodyFormat::kArrow) {
    return std::unique_ptr<PendingRows>(new PendingRows(nullptr, {}));
  }
  formats::PayloadEncoding encoding;
  encoding.format =
      format == BodyFormat::kCsv ? formats::MessageFormat::kCsv : formats::MessageFormat::kJson;
  SLUICE_ASSIGN_OR_RAISE(auto encoder, formats::PayloadEncoder::Make(encoding, schema));
  Framing framing;
  switch (format) {
    case BodyFormat::kJson:
      framing = {"[", ",", "]"};
      break;
    case BodyFormat::kJsonl:
      framing = {"", "\n", "\n"};
      break;
    case BodyFormat::kCsv: {
      SLUICE_ASSIGN_OR_RAISE(std::string header, CsvHeader(schema));
      framing = {std::move(header), "\n", "\n"};
      break;
    }
    case BodyFormat::kArrow:
      break;
  }
  return std::unique_ptr<PendingRows>(
      new PendingRows(std::move(encoder), std::move(framing)));
}

Status PendingRows::Add(const std::shared_ptr<arrow::RecordBatch>& batch) {
  if (batch->num_rows() == 0) return Status::OK();
  auto batch_index = static_cast<uint32_t>(batches_.size());
  batches_.push_back(batch);
  if (encoder_ != nullptr) SLUICE_RETURN_NOT_OK(encoder_->Prepare(batch));
  std::string reason;
  for (int64_t row = 0; row < batch->num_rows(); ++row) {
    if (encoder_ != nullptr) {
      // json and csv encode every row (only avro and raw refuse rows).
      SLUICE_ASSIGN_OR_RAISE(bool encoded, encoder_->EncodeRow(row, &text_, &reason));
      if (!encoded) return Status::Invalid("cannot encode row ", row, ": ", reason);
      ends_.push_back(static_cast<int64_t>(text_.size()));
    }
    origins_.emplace_back(batch_index, row);
  }
  return Status::OK();
}

Result<RequestBody> PendingRows::Next(size_t begin, int64_t max_rows, int64_t max_bytes) const {
  RequestBody request;
  request.begin = begin;
  const size_t total = num_rows() - begin;
  if (encoder_ != nullptr) {
    request.num_rows = RowsThatFit(ends_, begin, framing_, max_rows, max_bytes);
    request.body = framing_.prefix;
    std::string_view text(text_);
    for (size_t row = begin; row < begin + request.num_rows; ++row) {
      if (row > begin) request.body += framing_.separator;
      int64_t start = row == 0 ? 0 : ends_[row - 1];
      request.body += text.substr(start, ends_[row] - start);
    }
    request.body += framing_.suffix;
  } else {
    // The size of an Arrow body is known only once encoded: a body too large is encoded again
    // with fewer rows, in proportion to its excess.
    size_t count = std::min(total, static_cast<size_t>(max_rows));
    for (;;) {
      SLUICE_ASSIGN_OR_RAISE(auto batch, Gather(begin, count));
      SLUICE_ASSIGN_OR_RAISE(request.body, formats::PayloadEncoder::EncodeBatch(*batch));
      const auto size = static_cast<int64_t>(request.body.size());
      if (size <= max_bytes || count == 1) break;
      auto scaled = static_cast<size_t>(static_cast<double>(count) *
                                        static_cast<double>(max_bytes) / static_cast<double>(size));
      count = std::clamp<size_t>(scaled, 1, count - 1);
    }
    request.num_rows = count;
  }
  request.full = request.num_rows < total || static_cast<int64_t>(request.num_rows) >= max_rows;
  return request;
}

Result<std::shared_ptr<arrow::RecordBatch>> PendingRows::Gather(size_t begin,
                                                                 size_t count) const {
  std::vector<std::shared_ptr<arrow::RecordBatch>> slices;
  const size_t stop = begin + count;
  while (begin < stop) {
    auto [batch_index, first_row] = origins_[begin];
    size_t end = begin + 1;
    while (end < stop && origins_[end].first == batch_index &&
           origins_[end].second == first_row + static_cast<int64_t>(end - begin)) {
      ++end;
    }
    slices.push_back(batches_[batch_index]->Slice(first_row, static_cast<int64_t>(end - begin)));
    begin = end;
  }
  if (slices.size() == 1) return slices.front();
  return arrow::ConcatenateRecordBatches(slices);
}

void PendingRows::Drop(size_t count) {
  count = std::min(count, num_rows());
  if (count == 0) return;
  if (count == num_rows()) {
    text_.clear();
    ends_.clear();
    origins_.clear();
    batches_.clear();
    return;
  }
  if (!ends_.empty()) {
    int64_t offset = ends_[count - 1];
    text_.erase(0, static_cast<size_t>(offset));
    ends_.erase(ends_.begin(), ends_.begin() + static_cast<std::ptrdiff_t>(count));
    for (auto& end : ends_) end -= offset;
  }
  origins_.erase(origins_.begin(), origins_.begin() + static_cast<std::ptrdiff_t>(count));
  uint32_t first_batch = origins_.front().first;
  batches_.erase(batches_.begin(), batches_.begin() + first_batch);
  for (auto& origin : origins_) origin.first -= first_batch;
}

std::string PendingRows::RowRecord(size_t index) const {
  auto [batch_index, row] = origins_[index];
  return exec::RowToJson(*batches_[batch_index], row);
}

}  // namespace sluice::connectors::http
