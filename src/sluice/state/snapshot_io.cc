#include "sluice/state/snapshot_io.h"

#include <arrow/array.h>
#include <arrow/io/memory.h>
#include <arrow/ipc/reader.h>
#include <arrow/ipc/writer.h>

namespace sluice::state {

int64_t StateSnapshot::bytes() const {
  int64_t total = 0;
  for (const auto& [name, table] : tables) {
    if (table == nullptr) continue;
    for (const auto& column : table->columns()) {
      for (const auto& chunk : column->chunks()) {
        for (const auto& buffer : chunk->data()->buffers) {
          if (buffer != nullptr) total += buffer->size();
        }
      }
    }
  }
  return total;
}

Result<std::shared_ptr<arrow::Buffer>> EncodeTable(const arrow::Table& table) {
  SLUICE_ASSIGN_OR_RAISE(auto stream, arrow::io::BufferOutputStream::Create());
  SLUICE_ASSIGN_OR_RAISE(auto writer, arrow::ipc::MakeFileWriter(stream, table.schema()));
  SLUICE_RETURN_NOT_OK(writer->WriteTable(table));
  SLUICE_RETURN_NOT_OK(writer->Close());
  return stream->Finish();
}

Result<std::shared_ptr<arrow::Table>> DecodeTable(const std::shared_ptr<arrow::Buffer>& bytes) {
  auto input = std::make_shared<arrow::io::BufferReader>(bytes);
  auto reader = arrow::ipc::RecordBatchFileReader::Open(input);
  if (!reader.ok()) return Status::IOError("damaged state file: ", reader.status().message());
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  for (int i = 0; i < (*reader)->num_record_batches(); ++i) {
    auto batch = (*reader)->ReadRecordBatch(i);
    if (!batch.ok()) return Status::IOError("damaged state file: ", batch.status().message());
    // Validate fully: a checkpoint file is input like any other and must not crash a restore.
    Status valid = (*batch)->ValidateFull();
    if (!valid.ok()) return Status::IOError("damaged state file: ", valid.message());
    batches.push_back(std::move(*batch));
  }
  return arrow::Table::FromRecordBatches((*reader)->schema(), std::move(batches));
}

Result<StateSnapshot> RoundTrip(const StateSnapshot& snapshot) {
  StateSnapshot copy;
  copy.values = snapshot.values;
  for (const auto& [name, table] : snapshot.tables) {
    SLUICE_ASSIGN_OR_RAISE(auto bytes, EncodeTable(*table));
    SLUICE_ASSIGN_OR_RAISE(auto decoded, DecodeTable(bytes));
    copy.tables.emplace_back(name, std::move(decoded));
  }
  return copy;
}

}  // namespace sluice::state
