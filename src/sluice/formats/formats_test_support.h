#pragma once

// Helpers shared by the formats and file connector tests: a scratch directory and reading a
// whole input back. Test-only; not part of sluice_core's API.

#include <arrow/record_batch.h>
#include <arrow/table.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "sluice/formats/record_reader.h"

namespace sluice::formats::testing {

/// A fresh directory under the system's temporary directory, removed with its contents.
class ScratchDirectory {
 public:
  ScratchDirectory() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("sluice-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
    std::filesystem::create_directories(path_);
  }
  ~ScratchDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string File(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

#ifdef SLUICE_SOURCE_DIR
/// Writes the files of avro_orc_reference.py (Avro written by fastavro, ORC and Parquet by
/// pyarrow) into `directory`; false when those Python packages are not installed. Only for
/// test targets that know the source folder (sluice_tests).
inline bool WriteReferenceFiles(const ScratchDirectory& directory) {
  std::string command = std::string(SLUICE_SOURCE_DIR) + "/.deps/venv/bin/python " +
                        SLUICE_SOURCE_DIR + "/src/sluice/formats/avro_orc_reference.py " +
                        directory.path().string() + " > /dev/null 2>&1";
  return std::system(command.c_str()) == 0;
}
#endif

inline void WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

inline std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

struct ReadResult {
  std::shared_ptr<arrow::Table> table;
  std::vector<exec::DeadLetter> rejected;
  int batches = 0;
  int64_t max_batch_rows = 0;
};

/// Reads `path` to its end; fails the test on an error.
inline ReadResult ReadAll(const std::string& path, Format format, const ReadOptions& options = {}) {
  ReadResult result;
  auto reader = RecordReader::Open(path, format, options);
  EXPECT_TRUE(reader.ok()) << reader.status().ToString();
  if (!reader.ok()) return result;
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  while (true) {
    auto batch = (*reader)->Next(&result.rejected);
    EXPECT_TRUE(batch.ok()) << batch.status().ToString();
    if (!batch.ok() || *batch == nullptr) break;
    EXPECT_TRUE((*batch)->schema()->Equals(*(*reader)->schema()));
    result.max_batch_rows = std::max(result.max_batch_rows, (*batch)->num_rows());
    batches.push_back(*batch);
    ++result.batches;
  }
  EXPECT_EQ((*reader)->bytes_read(), (*reader)->bytes_total());
  result.table = *arrow::Table::FromRecordBatches((*reader)->schema(), batches);
  result.table = *result.table->CombineChunks();
  return result;
}

}  // namespace sluice::formats::testing
