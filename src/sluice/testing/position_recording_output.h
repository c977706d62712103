#pragma once

// Test-only: checks that a source restored from a checkpoint goes on exactly where it stopped.
// A source's Run() is driven without a pipeline into an output that asks the source for its
// position after chosen batches, as the pipeline does when it takes a checkpoint; a fresh source
// restored at each position must then deliver what the uninterrupted run delivered after it.

#include <arrow/api.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "sluice/exec/source.h"
#include "sluice/testing/collecting_output.h"

namespace sluice::testing {

/// Collects what a source delivers, like CollectingOutput, and asks the source for its position
/// after each wanted batch `lag` batches later (0: as the batch is handed over, before the
/// source goes on), as a pipeline behind its source would; Finish() asks for those left after
/// the run. Also notes, for each batch a source with several streams pushes, its stream, and for
/// each dead letter how many batches came before it. Used on the source's thread only; `source`
/// must outlive the pushes and Finish().
class PositionRecordingOutput : public CollectingOutput {
 public:
  PositionRecordingOutput(exec::Source* source, std::set<int64_t> wanted, int64_t lag = 0,
                          int64_t stop_after = 0)
      : CollectingOutput(stop_after), source_(source), wanted_(std::move(wanted)), lag_(lag) {}

  /// Asks for the positions not asked for yet.
  Status Finish() { return Ask(INT64_MAX); }

  Status Push(std::shared_ptr<arrow::RecordBatch> batch) override {
    SLUICE_RETURN_NOT_OK(CollectingOutput::Push(std::move(batch)));
    return Ask(static_cast<int64_t>(batches().size()) - lag_);
  }
  Status PushStream(size_t stream, std::shared_ptr<arrow::RecordBatch> batch) override {
    streams_.push_back(stream);
    return CollectingOutput::PushStream(stream, std::move(batch));
  }
  void Reject(exec::DeadLetter letter) override {
    letters_.emplace_back(static_cast<int64_t>(batches().size()), letter.origin);
    CollectingOutput::Reject(std::move(letter));
  }

  /// The position after each batch asked for, by the number of batches before it.
  const std::map<int64_t, std::string>& positions() const { return positions_; }
  /// The stream of each batch pushed with PushStream(), in order.
  const std::vector<size_t>& streams() const { return streams_; }
  /// Each dead letter's origin, with the number of batches pushed before it: a source restored
  /// after that many batches or fewer delivers it again, one restored later does not.
  const std::vector<std::pair<int64_t, std::string>>& letters() const { return letters_; }

 private:
  /// Asks for the wanted positions through batch `last`, in order.
  Status Ask(int64_t last) {
    while (!wanted_.empty() && *wanted_.begin() <= last &&
           *wanted_.begin() <= static_cast<int64_t>(batches().size())) {
      const int64_t cut = *wanted_.begin();
      wanted_.erase(wanted_.begin());
      SLUICE_ASSIGN_OR_RAISE(positions_[cut], source_->PositionAfter(cut));
    }
    return Status::OK();
  }

  exec::Source* source_;
  std::set<int64_t> wanted_;
  int64_t lag_;
  std::map<int64_t, std::string> positions_;
  std::vector<size_t> streams_;
  std::vector<std::pair<int64_t, std::string>> letters_;
};

/// Builds the source under test afresh, from the same configuration each time.
using SourceMaker = std::function<Result<std::unique_ptr<exec::Source>>()>;

/// A source's run from the start that took positions. The source is kept because the output
/// points to it.
struct PositionedRun {
  std::unique_ptr<exec::Source> source;
  std::unique_ptr<PositionRecordingOutput> out;
};

/// Runs a fresh source to its end, asking for its positions after the batches `cuts`, `lag`
/// batches later; expects a position for every cut. `out` is null when the source was not made.
inline PositionedRun RunTakingPositions(const SourceMaker& make_source,
                                        const std::set<int64_t>& cuts, int64_t lag = 0) {
  PositionedRun run;
  auto source = make_source();
  EXPECT_TRUE(source.ok()) << source.status().ToString();
  if (!source.ok()) return run;
  run.source = std::move(*source);
  EXPECT_TRUE(run.source->checkpointable());
  run.out = std::make_unique<PositionRecordingOutput>(run.source.get(), cuts, lag);
  Status status = run.source->Run(*run.out);
  EXPECT_TRUE(status.ok()) << status.ToString();
  status = run.out->Finish();
  EXPECT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(run.out->positions().size(), cuts.size()) << "a cut lies beyond the last batch";
  return run;
}

/// Expects the first `cut` batches of `whole` followed by the batches of `rest` to hold exactly
/// the rows of `whole`.
inline void ExpectSameRowsAfterCut(const CollectingOutput& whole, int64_t cut,
                                   const CollectingOutput& rest) {
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches(whole.batches().begin(),
                                                           whole.batches().begin() + cut);
  batches.insert(batches.end(), rest.batches().begin(), rest.batches().end());
  auto expected = whole.Table();
  auto joined = arrow::Table::FromRecordBatches(expected->schema(), batches);
  ASSERT_TRUE(joined.ok()) << joined.status().ToString();
  EXPECT_EQ((*joined)->num_rows(), expected->num_rows());
  EXPECT_TRUE((*joined)->Equals(*expected));
}

/// What a restored source must have delivered: `whole` is the uninterrupted run, `rest` the run
/// of a source restored at the position after `cut` of its batches.
using ResumeCheck = std::function<void(const PositionRecordingOutput& whole, int64_t cut,
                                       const PositionRecordingOutput& rest)>;

/// Runs a source once, taking its positions after `cuts` as each batch is handed over and again
/// (in another run) two batches later; then for each position, runs a fresh source restored
/// there to its end and hands both runs to `expect_resumed`.
inline void ExpectSourceResumesExactly(const SourceMaker& make_source,
                                       const std::set<int64_t>& cuts,
                                       const ResumeCheck& expect_resumed) {
  for (int64_t lag : {0, 2}) {
    PositionedRun whole = RunTakingPositions(make_source, cuts, lag);
    ASSERT_NE(whole.out, nullptr);
    for (const auto& [cut, position] : whole.out->positions()) {
      SCOPED_TRACE(fmt::format("cut after batch {} (asked {} later) at {}", cut, lag, position));
      auto restored = make_source();
      ASSERT_TRUE(restored.ok()) << restored.status().ToString();
      Status status = (*restored)->RestorePosition(position);
      ASSERT_TRUE(status.ok()) << status.ToString();
      PositionRecordingOutput rest(restored->get(), {});
      status = (*restored)->Run(rest);
      ASSERT_TRUE(status.ok()) << status.ToString();
      expect_resumed(*whole.out, cut, rest);
    }
  }
}

/// Expects a source built for a pipeline that takes no checkpoints to keep no positions, and
/// one built for a pipeline that does to refuse each of the `foreign` positions.
inline void ExpectPositionsOnlyWithCheckpoints(
    const std::function<Result<std::unique_ptr<exec::Source>>(bool checkpoints)>& make_source,
    const std::vector<std::string>& foreign) {
  auto source = make_source(/*checkpoints=*/false);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  CollectingOutput out;
  ASSERT_TRUE((*source)->Run(out).ok());
  EXPECT_FALSE((*source)->PositionAfter(3).ok());
  auto restored = make_source(/*checkpoints=*/true);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  for (const std::string& position : foreign) {
    EXPECT_FALSE((*restored)->RestorePosition(position).ok()) << position;
  }
}

}  // namespace sluice::testing
