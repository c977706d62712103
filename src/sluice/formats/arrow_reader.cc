// The Arrow IPC reader: the file format (random access, starts with "ARROW1") and the stream
// format are told apart by their first bytes, so users need not say which they have. Damage
// stays local: a record batch of a file that cannot be read is skipped alone, a stream cut
// short keeps the batches before the cut, and a file whose footer is gone (truncated) is read
// front to back as the stream it holds.

#include <arrow/buffer.h>
#include <arrow/io/interfaces.h>
#include <arrow/io/memory.h>
#include <arrow/ipc/reader.h>
#include <arrow/record_batch.h>
#include <arrow/type.h>
#include <fmt/format.h>

#include <cstring>

#include "sluice/formats/readers_internal.h"

namespace sluice::formats::internal {
namespace {

/// The Arrow file format's leading magic, padded: the stream format follows it.
constexpr int64_t kFileHeader = 8;

/// Reads a stream from `start` bytes into the input; `size` counts from the input's start.
/// `cut_short`: the input is known to end early (no end-of-stream marker, no footer), so that
/// a clean end of its batches still reports the input as truncated.
Result<std::unique_ptr<RecordReader>> OpenStreamAt(std::shared_ptr<arrow::io::InputStream> input,
                                                   int64_t start, int64_t size, std::string name,
                                                   const ReadOptions& options,
                                                   const std::string& what, bool cut_short) {
  auto opened = arrow::ipc::RecordBatchStreamReader::Open(input);
  if (!opened.ok())
    return Status::Invalid(
        fmt::format("{}: not a readable {}: {}", name, what, opened.status().message()));
  std::shared_ptr<arrow::ipc::RecordBatchStreamReader> reader = *opened;
  auto position = [input, start]() {
    auto at = input->Tell();
    return at.ok() ? start + *at : start;
  };
  auto state = std::make_shared<std::pair<int64_t, bool>>(0, false);  // rows read, ended
  auto next =
      [reader, position, state, size, name, options, cut_short](
          std::vector<exec::DeadLetter>* rejected) -> Result<std::shared_ptr<arrow::RecordBatch>> {
    if (state->second) return nullptr;
    int64_t at = position();
    auto batch = reader->Next();
    if (batch.ok() && (*batch != nullptr || !cut_short)) {
      if (*batch == nullptr)
        state->second = true;
      else
        state->first += (*batch)->num_rows();
      return batch;
    }
    // Cut short or damaged: what was read stays; the rest is lost.
    state->second = true;
    exec::DeadLetter letter;
    letter.origin = fmt::format("{}:byte {}", name, at);
    letter.reason = fmt::format(
        "the stream is unreadable after {} rows ({}): it is cut short or damaged, and the rest "
        "of it is lost",
        state->first,
        batch.ok() ? "it ends without its end-of-stream marker or footer"
                   : OneLine(batch.status().message()));
    letter.skipped_bytes = size == RecordReader::kUnknownSize ? 0 : std::max<int64_t>(size - at, 1);
    SLUICE_RETURN_NOT_OK(ReportDamage(options, std::move(letter), rejected));
    return nullptr;
  };
  return BatchSourceReader::Make(std::move(name), reader->schema(), size, std::move(next),
                         std::move(position), options);
}

}  // namespace

Result<std::unique_ptr<RecordReader>> OpenArrowStreamReader(
    std::shared_ptr<arrow::io::InputStream> input, int64_t size, std::string name,
    const ReadOptions& options) {
  return OpenStreamAt(std::move(input), 0, size, std::move(name), options, "Arrow stream",
                      /*cut_short=*/false);
}

Result<std::unique_ptr<RecordReader>> OpenArrowReader(
    std::shared_ptr<arrow::io::RandomAccessFile> file, std::string name,
    const ReadOptions& options) {
  SLUICE_ASSIGN_OR_RAISE(int64_t size, file->GetSize());
  SLUICE_ASSIGN_OR_RAISE(auto magic, file->ReadAt(0, 6));
  bool file_format = magic->size() == 6 && std::memcmp(magic->data(), "ARROW1", 6) == 0;
  if (!file_format) {
    // A stream written to its end finishes with an end-of-stream marker (0xFFFFFFFF, 0).
    bool marked = false;
    if (size >= 8) {
      SLUICE_ASSIGN_OR_RAISE(auto tail, file->ReadAt(size - 8, 8));
      marked = tail->size() == 8 && std::memcmp(tail->data(), "\xFF\xFF\xFF\xFF\0\0\0\0", 8) == 0;
    }
    SLUICE_RETURN_NOT_OK(file->Seek(0));
    return OpenStreamAt(std::move(file), 0, size, std::move(name), options, "Arrow stream",
                        /*cut_short=*/!marked);
  }
  auto opened = arrow::ipc::RecordBatchFileReader::Open(file);
  if (!opened.ok()) {
    // Without its footer (a file cut short) the file is still the stream after its header.
    SLUICE_ASSIGN_OR_RAISE(
        std::shared_ptr<arrow::io::InputStream> rest,
        arrow::io::RandomAccessFile::GetStream(file, kFileHeader, size - kFileHeader));
    auto reader = OpenStreamAt(std::move(rest), kFileHeader, size, name, options, "Arrow file",
                               /*cut_short=*/true);
    if (!reader.ok())
      return Status::Invalid(
          fmt::format("{}: not a readable Arrow file: {}", name, opened.status().message()));
    return reader;
  }
  std::shared_ptr<arrow::ipc::RecordBatchFileReader> reader = *opened;
  auto index = std::make_shared<int>(0);
  auto next =
      [reader, index, name, options](
          std::vector<exec::DeadLetter>* rejected) -> Result<std::shared_ptr<arrow::RecordBatch>> {
    while (*index < reader->num_record_batches()) {
      const int i = (*index)++;
      auto batch = reader->ReadRecordBatch(i);
      if (batch.ok()) return batch;
      exec::DeadLetter letter;
      letter.origin =
          fmt::format("{}:record batch {} of {}", name, i + 1, reader->num_record_batches());
      letter.reason = fmt::format("record batch {} is unreadable ({}): its rows are lost", i + 1,
                                  OneLine(batch.status().message()));
      SLUICE_RETURN_NOT_OK(ReportDamage(options, std::move(letter), rejected));
    }
    return nullptr;
  };
  auto bytes_read = [reader, index, size]() {
    int batches = reader->num_record_batches();
    return batches == 0 ? size : size * *index / batches;
  };
  return BatchSourceReader::Make(std::move(name), reader->schema(), size, std::move(next),
                         std::move(bytes_read), options);
}

}  // namespace sluice::formats::internal
