#include "sluice/processors/join.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "sluice/exec/dead_letter.h"
#include "sluice/testing/processor_from_yaml.h"

namespace sluice::processors {
namespace {

using exec::Timestamp;

constexpr Timestamp kSecond = 1000000;
constexpr int kLeft = 0;
constexpr int kRight = 1;

std::shared_ptr<arrow::DataType> TimeType() {
  return arrow::timestamp(arrow::TimeUnit::MICRO, "UTC");
}

/// The left stream of the hand-written cases: auctions by seller and category.
std::shared_ptr<arrow::Schema> AuctionSchema() {
  return arrow::schema({arrow::field("id", arrow::int64()), arrow::field("seller", arrow::int64()),
                        arrow::field("category", arrow::utf8()), arrow::field("ts", TimeType())});
}

/// The right stream: persons by id and region; `name` tells the rows apart.
std::shared_ptr<arrow::Schema> PersonSchema() {
  return arrow::schema({arrow::field("id", arrow::int64()), arrow::field("name", arrow::utf8()),
                        arrow::field("region", arrow::utf8()), arrow::field("ts", TimeType())});
}

struct Auction {
  int64_t id;
  std::optional<int64_t> seller;
  int64_t second;
  std::optional<std::string> category = "x";
};

struct Person {
  std::optional<int64_t> id;
  std::string name;
  int64_t second;
  std::optional<std::string> region = "x";
};

std::shared_ptr<arrow::RecordBatch> AuctionBatch(const std::vector<Auction>& rows) {
  arrow::Int64Builder ids, sellers;
  arrow::StringBuilder categories;
  arrow::TimestampBuilder times(TimeType(), arrow::default_memory_pool());
  for (const auto& row : rows) {
    EXPECT_TRUE(ids.Append(row.id).ok());
    EXPECT_TRUE((row.seller ? sellers.Append(*row.seller) : sellers.AppendNull()).ok());
    EXPECT_TRUE((row.category ? categories.Append(*row.category) : categories.AppendNull()).ok());
    EXPECT_TRUE(times.Append(row.second * kSecond).ok());
  }
  return arrow::RecordBatch::Make(AuctionSchema(), static_cast<int64_t>(rows.size()),
                                  {ids.Finish().ValueOrDie(), sellers.Finish().ValueOrDie(),
                                   categories.Finish().ValueOrDie(), times.Finish().ValueOrDie()});
}

std::shared_ptr<arrow::RecordBatch> PersonBatch(const std::vector<Person>& rows) {
  arrow::Int64Builder ids;
  arrow::StringBuilder names, regions;
  arrow::TimestampBuilder times(TimeType(), arrow::default_memory_pool());
  for (const auto& row : rows) {
    EXPECT_TRUE((row.id ? ids.Append(*row.id) : ids.AppendNull()).ok());
    EXPECT_TRUE(names.Append(row.name).ok());
    EXPECT_TRUE((row.region ? regions.Append(*row.region) : regions.AppendNull()).ok());
    EXPECT_TRUE(times.Append(row.second * kSecond).ok());
  }
  return arrow::RecordBatch::Make(PersonSchema(), static_cast<int64_t>(rows.size()),
                                  {ids.Finish().ValueOrDie(), names.Finish().ValueOrDie(),
                                   regions.Finish().ValueOrDie(), times.Finish().ValueOrDie()});
}

exec::InputStream Stream(std::string name, std::shared_ptr<arrow::Schema> schema,
                         std::string event_time) {
  exec::InputStream stream;
  stream.name = std::move(name);
  stream.schema = std::move(schema);
  stream.event_time_field = std::move(event_time);
  return stream;
}

/// The context a pipeline gives a join of `left` and `right`.
exec::ProcessorContext JoinContext(exec::DeadLetterQueue* dead_letters, exec::InputStream left,
                                   exec::InputStream right) {
  exec::ProcessorContext context;
  context.pipeline_name = "test";
  context.dead_letters = dead_letters;
  context.event_time_field = left.event_time_field;
  context.inputs = {std::move(left), std::move(right)};
  return context;
}

/// A join built from a pipeline step written as YAML, over auctions (left) and persons (right)
/// unless told otherwise.
struct Harness {
  exec::DeadLetterQueue dead_letters;
  std::unique_ptr<exec::Processor> processor;
  exec::CollectingEmitter out;

  Status Make(const std::string& step, std::string left_time = "ts", std::string right_time = "ts",
              std::string right_name = "persons") {
    return MakeWith(step, Stream("auctions", AuctionSchema(), std::move(left_time)),
                    Stream(std::move(right_name), PersonSchema(), std::move(right_time)));
  }
  Status MakeWith(const std::string& step, exec::InputStream left, exec::InputStream right) {
    auto schema = left.schema;
    SLUICE_ASSIGN_OR_RAISE(
        processor,
        testing::ProcessorFromYaml("join", step, schema,
                                   JoinContext(&dead_letters, std::move(left), std::move(right))));
    return Status::OK();
  }

  void Left(const std::vector<Auction>& rows) { Input(kLeft, AuctionBatch(rows)); }
  void Right(const std::vector<Person>& rows) { Input(kRight, PersonBatch(rows)); }
  void Input(int side, const std::shared_ptr<arrow::RecordBatch>& batch) {
    Status status = processor->ProcessInput(side, batch, out);
    ASSERT_TRUE(status.ok()) << status.ToString();
  }
  void Watermark(int64_t second) {
    Status status = processor->OnWatermark(second * kSecond, out);
    ASSERT_TRUE(status.ok()) << status.ToString();
  }
  void End() {
    Status status = processor->OnWatermark(exec::kMaxTimestamp, out);
    ASSERT_TRUE(status.ok()) << status.ToString();
    status = processor->Finish(out);
    ASSERT_TRUE(status.ok()) << status.ToString();
  }

  /// The rows emitted since the last call, as "a<auction id>-<person name>" ("-" for a missing
  /// side), prefixed by "[start,end) " (in seconds) for a window join; sorted.
  std::vector<std::string> Pairs() {
    std::vector<std::string> pairs;
    for (const auto& batch : out.batches()) {
      EXPECT_TRUE(batch->schema()->Equals(*processor->output_schema(), false));
      auto ids = std::static_pointer_cast<arrow::Int64Array>(batch->GetColumnByName("id"));
      auto names = std::static_pointer_cast<arrow::StringArray>(batch->GetColumnByName("name"));
      auto starts =
          std::static_pointer_cast<arrow::TimestampArray>(batch->GetColumnByName("window_start"));
      for (int64_t i = 0; i < batch->num_rows(); ++i) {
        std::string pair;
        if (starts != nullptr) {
          const int64_t start = starts->Value(i) / kSecond;
          auto ends =
              std::static_pointer_cast<arrow::TimestampArray>(batch->GetColumnByName("window_end"));
          pair =
              "[" + std::to_string(start) + "," + std::to_string(ends->Value(i) / kSecond) + ") ";
        }
        pair += ids->IsNull(i) ? "-" : "a" + std::to_string(ids->Value(i));
        pair += "-";
        pair += names->IsNull(i) ? "-" : names->GetString(i);
        pairs.push_back(std::move(pair));
      }
    }
    out.batches().clear();
    std::sort(pairs.begin(), pairs.end());
    return pairs;
  }
  std::vector<std::string> Lines() {
    std::vector<std::string> lines;
    for (const auto& batch : out.batches()) {
      for (int64_t i = 0; i < batch->num_rows(); ++i) lines.push_back(exec::RowToJson(*batch, i));
    }
    out.batches().clear();
    return lines;
  }
};

using Pairs = std::vector<std::string>;

std::string ErrorOf(const std::string& step, std::string left_time = "ts",
                    std::string right_time = "ts") {
  Harness harness;
  Status status = harness.Make(step, std::move(left_time), std::move(right_time));
  return status.ok() ? "(no error)" : status.message();
}

// ---------------------------------------------------------------------------------------
// Window join.

/// Runs one tumbling-window scenario; returns the rows of each firing.
std::vector<Pairs> TumblingScenario(const std::string& type) {
  Harness h;
  Status status = h.Make("join: {left: auctions, right: persons, on: {seller: id}, type: " + type +
                         ", window: {tumbling: 10s}}");
  EXPECT_TRUE(status.ok()) << status.ToString();
  if (!status.ok()) return {};
  std::vector<Pairs> firings;
  h.Left({{1, 1, 1}, {2, 2, 3}, {4, 3, 5}});
  h.Right({{1, "bob", 2}, {4, "eve", 4}, {2, "carl", 15}});
  h.Left({{3, 1, 12}});
  h.Right({{1, "dan", 11}});
  h.Watermark(9);
  firings.push_back(h.Pairs());  // nothing yet: [0, 10) is still open
  h.Watermark(10);
  firings.push_back(h.Pairs());
  h.End();
  firings.push_back(h.Pairs());
  EXPECT_EQ(h.processor->state_bytes(), 0);
  return firings;
}

TEST(JoinWindowTest, InnerJoinsRowsOfOneWindowWhenTheWatermarkPassesItsEnd) {
  EXPECT_EQ(TumblingScenario("inner"),
            (std::vector<Pairs>{{}, {"[0,10) a1-bob"}, {"[10,20) a3-dan"}}));
}

TEST(JoinWindowTest, LeftOuterAddsUnmatchedLeftRowsPerWindow) {
  EXPECT_EQ(TumblingScenario("left"),
            (std::vector<Pairs>{
                {}, {"[0,10) a1-bob", "[0,10) a2--", "[0,10) a4--"}, {"[10,20) a3-dan"}}));
}

TEST(JoinWindowTest, RightOuterAddsUnmatchedRightRowsPerWindow) {
  EXPECT_EQ(TumblingScenario("right"),
            (std::vector<Pairs>{
                {}, {"[0,10) --eve", "[0,10) a1-bob"}, {"[10,20) --carl", "[10,20) a3-dan"}}));
}

TEST(JoinWindowTest, FullOuterAddsUnmatchedRowsOfBothSides) {
  EXPECT_EQ(TumblingScenario("full"),
            (std::vector<Pairs>{{},
                                {"[0,10) --eve", "[0,10) a1-bob", "[0,10) a2--", "[0,10) a4--"},
                                {"[10,20) --carl", "[10,20) a3-dan"}}));
}

TEST(JoinWindowTest, OutputHasWindowColumnsThenLeftThenRenamedRightFields) {
  Harness h;
  ASSERT_TRUE(
      h.Make("join: {left: auctions, right: persons, on: {seller: id}, type: left, window: 10s}")
          .ok());
  EXPECT_EQ(h.processor->output_schema()->ToString(),
            "window_start: timestamp[us, tz=UTC] not null\n"
            "window_end: timestamp[us, tz=UTC] not null\n"
            "id: int64\nseller: int64\ncategory: string\nts: timestamp[us, tz=UTC]\n"
            "persons_id: int64\nname: string\nregion: string\npersons_ts: timestamp[us, tz=UTC]");
  EXPECT_EQ(h.processor->output_event_time_field(), "window_end");
  EXPECT_FALSE(h.processor->stateless());
  h.Left({{1, 7, 3, "books"}, {2, 8, 4}});
  h.Right({{7, "bob", 5, "eu"}});
  h.End();
  EXPECT_EQ(
      h.Lines(),
      (std::vector<std::string>{
          R"({"window_start":"1970-01-01T00:00:00Z","window_end":"1970-01-01T00:00:10Z","id":1,"seller":7,"category":"books","ts":"1970-01-01T00:00:03Z","persons_id":7,"name":"bob","region":"eu","persons_ts":"1970-01-01T00:00:05Z"})",
          R"({"window_start":"1970-01-01T00:00:00Z","window_end":"1970-01-01T00:00:10Z","id":2,"seller":8,"category":"x","ts":"1970-01-01T00:00:04Z","persons_id":null,"name":null,"region":null,"persons_ts":null})"}));
}

TEST(JoinWindowTest, SlidingWindowJoinsInEveryWindowBothRowsShare) {
  Harness h;
  ASSERT_TRUE(h.Make("join: {left: auctions, right: persons, on: {seller: id}, type: full, "
                     "window: {sliding: {size: 10s, slide: 5s}}}")
                  .ok());
  h.Right({{1, "bob", 3}});
  h.Left({{1, 1, 7}});
  h.Right({{1, "carl", 12}});
  h.Watermark(10);
  // [-5, 5) holds only bob; [0, 10) holds a1 and bob.
  EXPECT_EQ(h.Pairs(), (Pairs{"[-5,5) --bob", "[0,10) a1-bob"}));
  h.End();
  EXPECT_EQ(h.Pairs(), (Pairs{"[10,20) --carl", "[5,15) a1-carl"}));
  EXPECT_EQ(h.processor->state_bytes(), 0);
}

TEST(JoinWindowTest, LateRowsOfFiredWindowsAreDeadLetters) {
  Harness h;
  ASSERT_TRUE(
      h.Make("join: {left: auctions, right: persons, on: {seller: id}, window: {tumbling: 10s}}")
          .ok());
  h.Left({{1, 1, 2}});
  h.Watermark(10);
  h.Right({{1, "bob", 5}, {1, "carl", 11}});
  h.Left({{2, 1, 9}, {3, 1, 12}});
  EXPECT_EQ(h.dead_letters.late(), 2);
  auto letters = h.dead_letters.Drain();
  ASSERT_EQ(letters.size(), 2u);
  EXPECT_EQ(letters[0].stage, "join");
  EXPECT_EQ(letters[0].source, "persons");
  EXPECT_EQ(letters[0].reason,
            "late: window [1970-01-01T00:00:00Z, 1970-01-01T00:00:10Z) has closed");
  EXPECT_NE(letters[0].record.find("\"bob\""), std::string::npos);
  EXPECT_EQ(letters[1].source, "auctions");
  h.End();
  EXPECT_EQ(h.Pairs(), (Pairs{"[10,20) a3-carl"}));
}

TEST(JoinWindowTest, RowsWithoutEventTimeAreDeadLetters) {
  Harness h;
  ASSERT_TRUE(h.Make("join: {left: auctions, right: persons, on: {seller: id}, window: 10s}").ok());
  auto batch = AuctionBatch({{1, 1, 2}, {2, 1, 3}});
  arrow::TimestampBuilder times(TimeType(), arrow::default_memory_pool());
  ASSERT_TRUE(times.Append(2 * kSecond).ok());
  ASSERT_TRUE(times.AppendNull().ok());
  batch = batch->SetColumn(3, AuctionSchema()->field(3), times.Finish().ValueOrDie()).ValueOrDie();
  h.Input(kLeft, batch);
  h.Right({{1, "bob", 4}});
  h.End();
  EXPECT_EQ(h.Pairs(), (Pairs{"[0,10) a1-bob"}));
  EXPECT_EQ(h.dead_letters.total(), 1);
  EXPECT_EQ(h.dead_letters.late(), 0);
}

TEST(JoinWindowTest, NullKeysNeverMatchButOuterSidesEmitThem) {
  Harness h;
  ASSERT_TRUE(
      h.Make("join: {left: auctions, right: persons, on: {seller: id}, type: full, window: 10s}")
          .ok());
  h.Left({{1, std::nullopt, 1}, {2, 5, 2}});
  h.Right({{std::nullopt, "bob", 3}, {5, "carl", 4}});
  h.End();
  EXPECT_EQ(h.Pairs(), (Pairs{"[0,10) --bob", "[0,10) a1--", "[0,10) a2-carl"}));

  Harness inner;
  ASSERT_TRUE(
      inner.Make("join: {left: auctions, right: persons, on: {seller: id}, window: 10s}").ok());
  inner.Left({{1, std::nullopt, 1}});
  inner.Right({{std::nullopt, "bob", 3}});
  inner.End();
  EXPECT_EQ(inner.Pairs(), Pairs{});
}

TEST(JoinWindowTest, StateIsFreedOnceTheWatermarkPassesTheWindows) {
  Harness h;
  ASSERT_TRUE(h.Make("join: {left: auctions, right: persons, on: {seller: id}, window: 10s}").ok());
  EXPECT_EQ(h.processor->state_bytes(), 0);
  h.Left({{1, 1, 1}, {2, 2, 2}});
  h.Right({{1, "bob", 3}});
  EXPECT_GT(h.processor->state_bytes(), 0);
  h.Watermark(10);
  EXPECT_EQ(h.Pairs(), (Pairs{"[0,10) a1-bob"}));
  EXPECT_EQ(h.processor->state_bytes(), 0);
}

TEST(JoinWindowTest, ProcessingTimeWhenNeitherStreamHasEventTime) {
  Harness h;
  ASSERT_TRUE(
      h.Make("join: {left: auctions, right: persons, on: {seller: id}, window: 1h}", "", "").ok());
  EXPECT_EQ(h.processor->output_event_time_field(), "window_end");
  // Event times in the rows are ignored: they are joined by arrival.
  h.Left({{1, 1, 1}});
  h.Right({{1, "bob", 999999}});
  h.End();
  auto pairs = h.Pairs();
  ASSERT_EQ(pairs.size(), 1u);
  EXPECT_NE(pairs[0].find("a1-bob"), std::string::npos);
}

// ---------------------------------------------------------------------------------------
// Interval join.

/// Runs one interval scenario (right.time - left.time within [-2s, 3s]); returns the rows
/// emitted after each step.
std::vector<Pairs> IntervalScenario(const std::string& type) {
  Harness h;
  Status status = h.Make("join: {left: auctions, right: persons, on: {seller: id}, type: " + type +
                         ", interval: {lower: -2s, upper: 3s}}");
  EXPECT_TRUE(status.ok()) << status.ToString();
  if (!status.ok()) return {};
  std::vector<Pairs> steps;
  h.Right({{1, "bob", 8}, {1, "dan", 7}});
  h.Watermark(6);
  steps.push_back(h.Pairs());
  h.Left({{1, 1, 10}, {2, 5, 11}});
  steps.push_back(h.Pairs());  // a1 meets bob (8 - 10 = -2: the bound is included), not dan
  h.Watermark(7);
  h.Right({{1, "carl", 13}, {1, "eve", 14}, {2, "fay", 10}});
  steps.push_back(h.Pairs());  // carl (13 - 10 = 3, included); eve is 4s late, fay another key
  h.Watermark(10);
  steps.push_back(h.Pairs());  // frees dan (7 + 2 < 10)
  h.Watermark(15);
  steps.push_back(h.Pairs());  // frees a1, a2 (11 + 3 < 15), bob, fay
  h.End();
  steps.push_back(h.Pairs());  // carl, eve
  EXPECT_EQ(h.processor->state_bytes(), 0);
  return steps;
}

TEST(JoinIntervalTest, InnerEmitsMatchesAsSoonAsTheSecondRowArrives) {
  EXPECT_EQ(IntervalScenario("inner"),
            (std::vector<Pairs>{{}, {"a1-bob"}, {"a1-carl"}, {}, {}, {}}));
}

TEST(JoinIntervalTest, LeftOuterEmitsUnmatchedLeftRowsWhenFreed) {
  EXPECT_EQ(IntervalScenario("left"),
            (std::vector<Pairs>{{}, {"a1-bob"}, {"a1-carl"}, {}, {"a2--"}, {}}));
}

TEST(JoinIntervalTest, FullOuterEmitsUnmatchedRowsOfBothSidesWhenFreed) {
  EXPECT_EQ(
      IntervalScenario("full"),
      (std::vector<Pairs>{{}, {"a1-bob"}, {"a1-carl"}, {"--dan"}, {"--fay", "a2--"}, {"--eve"}}));
}

TEST(JoinIntervalTest, RowsBehindTheWatermarkAreLate) {
  Harness h;
  ASSERT_TRUE(h.Make("join: {left: auctions, right: persons, on: {seller: id}, interval: {lower: "
                     "-5s, upper: 5s}}")
                  .ok());
  EXPECT_EQ(h.processor->output_event_time_field(), "ts");
  h.Right({{1, "bob", 10}});
  h.Watermark(9);
  h.Left({{1, 1, 8}, {2, 1, 9}});
  EXPECT_EQ(h.Pairs(), (Pairs{"a2-bob"}));
  EXPECT_EQ(h.dead_letters.late(), 1);
  auto letters = h.dead_letters.Drain();
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].reason, "late: event time 1970-01-01T00:00:08Z is behind the watermark");
}

// ---------------------------------------------------------------------------------------
// Regular join with a time-to-live.

std::vector<Pairs> TtlScenario(const std::string& type) {
  Harness h;
  Status status = h.Make("join: {left: auctions, right: persons, on: {seller: id}, type: " + type +
                         ", ttl: 10s}");
  EXPECT_TRUE(status.ok()) << status.ToString();
  if (!status.ok()) return {};
  std::vector<Pairs> steps;
  h.Right({{1, "bob", 0}, {2, "carl", 1}});
  h.Watermark(1);
  h.Left({{1, 1, 5}, {2, 9, 5}});
  steps.push_back(h.Pairs());  // a1 meets bob
  h.Watermark(9);
  h.Right({{1, "dan", 9}});
  steps.push_back(h.Pairs());  // dan meets the kept a1
  h.Watermark(10);
  steps.push_back(h.Pairs());  // bob expires (0 + 10 <= 10), matched
  h.Watermark(11);
  steps.push_back(h.Pairs());  // carl expires unmatched
  h.Left({{3, 1, 11}});
  steps.push_back(h.Pairs());  // a3 meets dan only: bob is gone
  h.Watermark(15);
  steps.push_back(h.Pairs());  // a1 (matched) and a2 (unmatched) expire
  h.End();
  steps.push_back(h.Pairs());
  EXPECT_EQ(h.processor->state_bytes(), 0);
  return steps;
}

TEST(JoinTtlTest, InnerJoinsArrivingRowsWithTheKeptOnes) {
  EXPECT_EQ(TtlScenario("inner"),
            (std::vector<Pairs>{{"a1-bob"}, {"a1-dan"}, {}, {}, {"a3-dan"}, {}, {}}));
}

TEST(JoinTtlTest, LeftOuterEmitsUnmatchedLeftRowsWhenTheyExpire) {
  EXPECT_EQ(TtlScenario("left"),
            (std::vector<Pairs>{{"a1-bob"}, {"a1-dan"}, {}, {}, {"a3-dan"}, {"a2--"}, {}}));
}

TEST(JoinTtlTest, FullOuterEmitsUnmatchedRowsOfBothSidesWhenTheyExpire) {
  EXPECT_EQ(TtlScenario("full"),
            (std::vector<Pairs>{{"a1-bob"}, {"a1-dan"}, {}, {"--carl"}, {"a3-dan"}, {"a2--"}, {}}));
}

TEST(JoinTtlTest, OutputNamesTheTakenRightFieldsAfterTheirStream) {
  Harness h;
  ASSERT_TRUE(h.Make("join: {left: auctions, right: nexmark.person, on: {seller: id}, type: full, "
                     "ttl: 1m}",
                     "ts", "ts", "nexmark.person")
                  .ok());
  EXPECT_EQ(h.processor->output_schema()->ToString(),
            "id: int64\nseller: int64\ncategory: string\nts: timestamp[us, tz=UTC]\n"
            "person_id: int64\nname: string\nregion: string\nperson_ts: timestamp[us, tz=UTC]");
  EXPECT_EQ(h.processor->output_event_time_field(), "ts");
}

TEST(JoinTtlTest, PrefixesNameEverySideField) {
  Harness h;
  ASSERT_TRUE(h.Make("join: {left: auctions, right: persons, on: {seller: id}, ttl: 1m, "
                     "prefix: {left: a_, right: p_}}")
                  .ok());
  EXPECT_EQ(h.processor->output_schema()->field_names(),
            (std::vector<std::string>{"a_id", "a_seller", "a_category", "a_ts", "p_id", "p_name",
                                      "p_region", "p_ts"}));
  EXPECT_EQ(h.processor->output_event_time_field(), "a_ts");
}

TEST(JoinTtlTest, DeleteOnMatchConsumesBothRows) {
  Harness h;
  ASSERT_TRUE(h.Make("join: {left: auctions, right: persons, on: {seller: id}, type: full, ttl: "
                     "1m, on_match: delete}")
                  .ok());
  h.Right({{1, "bob", 0}, {1, "carl", 1}});
  h.Left({{1, 1, 2}});
  EXPECT_EQ(h.Pairs(), (Pairs{"a1-bob", "a1-carl"}));  // both kept rows are removed...
  h.Right({{1, "dan", 3}});
  EXPECT_EQ(h.Pairs(), Pairs{});  // ...and a1, having matched, was not kept
  h.Left({{2, 1, 4}});
  EXPECT_EQ(h.Pairs(), (Pairs{"a2-dan"}));
  h.Left({{3, 1, 5}});
  EXPECT_EQ(h.Pairs(), Pairs{});  // dan was consumed by a2
  h.End();
  EXPECT_EQ(h.Pairs(), (Pairs{"a3--"}));
  EXPECT_EQ(h.processor->state_bytes(), 0);
}

TEST(JoinTtlTest, KeepOnMatchJoinsEveryLaterMatch) {
  Harness h;
  ASSERT_TRUE(h.Make("join: {left: auctions, right: persons, on: {seller: id}, ttl: 1m}").ok());
  h.Right({{1, "bob", 0}});
  h.Left({{1, 1, 2}});
  h.Left({{2, 1, 3}});
  EXPECT_EQ(h.Pairs(), (Pairs{"a1-bob", "a2-bob"}));
}

TEST(JoinTtlTest, MultiFieldKeysMatchOnEveryField) {
  Harness h;
  ASSERT_TRUE(h.Make("join: {left: auctions, right: persons, on: {seller: id, category: region}, "
                     "type: left, ttl: 1m}")
                  .ok());
  h.Right(
      {{1, "bob", 0, "x"}, {1, "carl", 0, "y"}, {2, "dan", 0, "x"}, {1, "eve", 0, std::nullopt}});
  h.Left({{1, 1, 1, "x"}, {2, 1, 1, "y"}, {3, 2, 1, "y"}, {4, 1, 1, std::nullopt}});
  // a4's category is NULL: a NULL in any key field never matches, not even eve's NULL region.
  EXPECT_EQ(h.Pairs(), (Pairs{"a1-bob", "a2-carl", "a4--"}));
  h.End();
  EXPECT_EQ(h.Pairs(), (Pairs{"a3--"}));
}

TEST(JoinTtlTest, NullKeysNeverMatch) {
  Harness h;
  ASSERT_TRUE(
      h.Make("join: {left: auctions, right: persons, on: {seller: id}, type: right, ttl: 1m}")
          .ok());
  h.Right({{std::nullopt, "bob", 0}});
  EXPECT_EQ(h.Pairs(), (Pairs{"--bob"}));  // it can never match: emitted at once
  h.Left({{1, std::nullopt, 1}});
  EXPECT_EQ(h.Pairs(), Pairs{});
  h.End();
  EXPECT_EQ(h.Pairs(), Pairs{});
  EXPECT_EQ(h.processor->state_bytes(), 0);
}

TEST(JoinTtlTest, RowsThatWouldExpireOnArrivalAreLate) {
  Harness h;
  ASSERT_TRUE(h.Make("join: {left: auctions, right: persons, on: {seller: id}, ttl: 10s}").ok());
  h.Right({{1, "bob", 20}});
  h.Watermark(20);
  // 15s is behind the watermark but within its ttl: still joined. 10s + 10s is not.
  h.Left({{1, 1, 15}, {2, 1, 10}});
  EXPECT_EQ(h.Pairs(), (Pairs{"a1-bob"}));
  EXPECT_EQ(h.dead_letters.late(), 1);
  auto letters = h.dead_letters.Drain();
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].reason,
            "late: event time 1970-01-01T00:00:10Z plus ttl 10s is behind the watermark");
}

TEST(JoinTtlTest, StateIsFreedAsRowsExpire) {
  Harness h;
  ASSERT_TRUE(h.Make("join: {left: auctions, right: persons, on: {seller: id}, ttl: 10s}").ok());
  EXPECT_EQ(h.processor->state_bytes(), 0);
  h.Right({{1, "bob", 0}, {2, "carl", 5}});
  h.Left({{1, 1, 6}});
  const int64_t held = h.processor->state_bytes();
  EXPECT_GT(held, 0);
  h.Watermark(12);  // bob expired; carl and a1 are kept
  EXPECT_GT(h.processor->state_bytes(), 0);
  h.Watermark(16);
  EXPECT_EQ(h.processor->state_bytes(), 0);
  EXPECT_EQ(h.Pairs(), (Pairs{"a1-bob"}));
}

TEST(JoinTtlTest, ProcessIsTheLeftInput) {
  Harness h;
  ASSERT_TRUE(h.Make("join: {left: auctions, right: persons, on: {seller: id}, ttl: 1m}").ok());
  h.Right({{1, "bob", 0}});
  ASSERT_TRUE(h.processor->Process(AuctionBatch({{1, 1, 1}}), h.out).ok());
  EXPECT_EQ(h.Pairs(), (Pairs{"a1-bob"}));
  EXPECT_FALSE(h.processor->ProcessInput(2, AuctionBatch({{1, 1, 1}}), h.out).ok());
}

// ---------------------------------------------------------------------------------------
// Configuration errors.

TEST(JoinConfigTest, RefusesAJoinWithoutBoundedState) {
  std::string error = ErrorOf("join: {left: auctions, right: persons, on: {seller: id}}");
  EXPECT_NE(error.find("test.yaml:1:7: error:"), std::string::npos) << error;
  EXPECT_NE(error.find("unbounded"), std::string::npos) << error;
  EXPECT_NE(error.find("grow without bound"), std::string::npos) << error;
  EXPECT_NE(error.find("window"), std::string::npos) << error;
  EXPECT_NE(error.find("ttl"), std::string::npos) << error;
}

TEST(JoinConfigTest, RefusesTwoBounds) {
  std::string error =
      ErrorOf("join: {left: auctions, right: persons, on: {seller: id}, window: 10s, ttl: 1h}");
  EXPECT_NE(error.find("both 'window' and 'ttl'"), std::string::npos) << error;
}

TEST(JoinConfigTest, DeleteOnMatchNeedsTtl) {
  std::string error = ErrorOf(
      "join: {left: auctions, right: persons, on: {seller: id}, window: 10s, on_match: delete}");
  EXPECT_NE(error.find("on_match: delete applies to a regular join with ttl"), std::string::npos)
      << error;
}

TEST(JoinConfigTest, KeyTypesMustBeEqual) {
  std::string error =
      ErrorOf("join: {left: auctions, right: persons, on: {seller: name}, ttl: 1h}");
  EXPECT_NE(error.find("'seller' (int64)"), std::string::npos) << error;
  EXPECT_NE(error.find("'name' (string)"), std::string::npos) << error;
  EXPECT_NE(error.find("cast"), std::string::npos) << error;
  EXPECT_NE(error.find("test.yaml:1:53: error:"), std::string::npos) << error;
}

TEST(JoinConfigTest, UnknownFieldsGetASpellingHint) {
  std::string left = ErrorOf("join: {left: auctions, right: persons, on: {selller: id}, ttl: 1h}");
  EXPECT_NE(left.find("unknown field 'selller' of the left stream 'auctions'"), std::string::npos)
      << left;
  EXPECT_NE(left.find("did you mean 'seller'?"), std::string::npos) << left;
  std::string right = ErrorOf("join: {left: auctions, right: persons, on: {seller: idd}, ttl: 1h}");
  EXPECT_NE(right.find("unknown field 'idd' of the right stream 'persons'"), std::string::npos)
      << right;
  EXPECT_NE(right.find("did you mean 'id'?"), std::string::npos) << right;
}

TEST(JoinConfigTest, BothStreamsNeedEventTimeOrNeither) {
  std::string error =
      ErrorOf("join: {left: auctions, right: persons, on: {seller: id}, ttl: 1h}", "ts", "");
  EXPECT_NE(error.find("stream 'auctions' has event time ('ts') but 'persons' has none"),
            std::string::npos)
      << error;
}

TEST(JoinConfigTest, ChecksWindowsAndIntervals) {
  EXPECT_NE(ErrorOf("join: {left: auctions, right: persons, on: {seller: id}, window: {sliding: "
                    "{size: 5s, slide: 10s}}}")
                .find("slide cannot be longer than its size"),
            std::string::npos);
  EXPECT_NE(ErrorOf("join: {left: auctions, right: persons, on: {seller: id}, window: {}}")
                .find("tumbling or sliding"),
            std::string::npos);
  EXPECT_NE(ErrorOf("join: {left: auctions, right: persons, on: {seller: id}, interval: {lower: "
                    "5s, upper: -5s}}")
                .find("upper bound is below its lower bound"),
            std::string::npos);
  EXPECT_NE(ErrorOf("join: {left: auctions, right: persons, on: {seller: id}, interval: {lower: "
                    "-5, upper: 5s}}")
                .find("interval lower:"),
            std::string::npos);
  EXPECT_NE(ErrorOf("join: {left: auctions, right: persons, on: {seller: id}, type: outer, "
                    "ttl: 1h}")
                .find("'outer' is not a valid type"),
            std::string::npos);
  EXPECT_EQ(ErrorOf("join: {left: auctions, right: persons, on: {seller: id}, interval: {lower: "
                    "-5s, upper: +5s}}"),
            "(no error)");
}

TEST(JoinConfigTest, NeedsTwoInputs) {
  exec::ProcessorContext context;
  context.pipeline_name = "test";
  context.inputs = {Stream("auctions", AuctionSchema(), "ts")};
  auto made = testing::ProcessorFromYaml(
      "join", "join: {left: auctions, right: persons, on: {seller: id}, ttl: 1h}", AuctionSchema(),
      context);
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.status().message().find("a join reads two streams"), std::string::npos);
}

TEST(JoinConfigTest, DeclaresItsInputOptions) {
  const config::PluginSpec* spec =
      exec::BuiltinRegistry().FindSpec(config::PluginKind::kProcessor, "join");
  ASSERT_NE(spec, nullptr);
  EXPECT_EQ(spec->input_options, (std::vector<std::string>{"left", "right"}));
  for (const auto& option : spec->options) EXPECT_FALSE(option.doc.empty()) << option.name;
}

// ---------------------------------------------------------------------------------------
// Random streams against a plain reference implementation.

/// One row of the random tests; `id` is unique per side.
struct Event {
  int side;
  int64_t id;
  std::optional<int64_t> key;
  Timestamp time;
  /// The watermark when the row's batch arrives.
  Timestamp watermark_before;
};

std::shared_ptr<arrow::Schema> RandomSchema(const std::string& id_name) {
  return arrow::schema({arrow::field(id_name, arrow::int64()), arrow::field("k", arrow::int64()),
                        arrow::field("ts", TimeType())});
}

/// An output row: left id, right id (-1 when missing) and window start (0 without windows).
using Match = std::tuple<int64_t, int64_t, Timestamp>;

struct RandomCase {
  std::string step;  // the bound, e.g. "window: 10s"
  std::string type;
};

/// How GoogleTest shows a case in messages and test listings.
void PrintTo(const RandomCase& random_case, std::ostream* out) {
  *out << random_case.step << ", type " << random_case.type;
}

class JoinRandomTest : public ::testing::TestWithParam<RandomCase> {};

/// The expected output rows of `events`, by definition (window, interval) or by simulating the
/// arrival order (ttl).
std::vector<Match> Reference(const std::vector<Event>& events, const std::string& bound,
                             Timestamp size, Timestamp slide, Timestamp lower, Timestamp upper,
                             Timestamp ttl, bool left_outer, bool right_outer) {
  std::vector<Match> expected;
  std::vector<const Event*> left, right;
  for (const auto& event : events) (event.side == kLeft ? left : right).push_back(&event);
  auto keys_equal = [](const Event* a, const Event* b) {
    return a->key && b->key && *a->key == *b->key;
  };
  if (bound == "window") {
    auto windows_of = [&](Timestamp time) {
      std::vector<Timestamp> starts;
      Timestamp last = time >= 0 ? time / slide * slide : -((-time + slide - 1) / slide) * slide;
      for (Timestamp start = last; start > time - size; start -= slide) starts.push_back(start);
      return starts;
    };
    std::map<Timestamp, std::array<std::vector<const Event*>, 2>> windows;
    for (const auto& event : events) {
      for (Timestamp start : windows_of(event.time)) windows[start][event.side].push_back(&event);
    }
    for (const auto& [start, sides] : windows) {
      std::set<int64_t> right_matched;
      for (const Event* l : sides[kLeft]) {
        bool matched = false;
        for (const Event* r : sides[kRight]) {
          if (!keys_equal(l, r)) continue;
          expected.emplace_back(l->id, r->id, start);
          right_matched.insert(r->id);
          matched = true;
        }
        if (!matched && left_outer) expected.emplace_back(l->id, -1, start);
      }
      if (right_outer) {
        for (const Event* r : sides[kRight]) {
          if (!right_matched.count(r->id)) expected.emplace_back(-1, r->id, start);
        }
      }
    }
    return expected;
  }
  std::set<int64_t> left_matched, right_matched;
  std::map<int64_t, std::array<std::vector<const Event*>, 2>> by_key;
  for (const auto& event : events) {
    if (event.key) by_key[*event.key][event.side].push_back(&event);
  }
  for (const auto& [key, sides] : by_key) {
    for (const Event* l : sides[kLeft]) {
      for (const Event* r : sides[kRight]) {
        bool match;
        if (bound == "interval") {
          match = r->time >= l->time + lower && r->time <= l->time + upper;
        } else {
          // The later row meets the earlier one if the watermark had not expired it yet.
          const bool left_first = l < r;  // both point into `events`, in arrival order
          const Event* earlier = left_first ? l : r;
          const Event* later = left_first ? r : l;
          match = later->watermark_before < earlier->time + ttl;
        }
        if (!match) continue;
        expected.emplace_back(l->id, r->id, 0);
        left_matched.insert(l->id);
        right_matched.insert(r->id);
      }
    }
  }
  if (left_outer) {
    for (const Event* l : left) {
      if (!left_matched.count(l->id)) expected.emplace_back(l->id, -1, 0);
    }
  }
  if (right_outer) {
    for (const Event* r : right) {
      if (!right_matched.count(r->id)) expected.emplace_back(-1, r->id, 0);
    }
  }
  return expected;
}

TEST_P(JoinRandomTest, MatchesAReferenceImplementation) {
  const RandomCase& param = GetParam();
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 random(seed);
    // Many keys that drift with time in the last seed, so that the key table is rebuilt.
    const bool drifting = seed == 3;
    const int64_t count = drifting ? 9000 : 800;
    const Timestamp disorder = 3 * kSecond;
    std::vector<Event> events;
    Timestamp clock = 0;
    std::array<int64_t, 2> next_id{0, 0};
    for (int64_t i = 0; i < count; ++i) {
      clock += std::uniform_int_distribution<Timestamp>(0, kSecond / 2)(random);
      Event event;
      // Runs of rows of one side, which become its batches.
      event.side =
          i == 0 || random() % 6 == 0 ? static_cast<int>(random() % 2) : events.back().side;
      event.id = next_id[event.side]++;
      if (random() % 10 != 0) {
        event.key = drifting ? i * 2 / 3 + static_cast<int64_t>(random() % 6)
                             : static_cast<int64_t>(random() % 12);
      }
      event.time = clock - std::uniform_int_distribution<Timestamp>(0, disorder)(random);
      events.push_back(event);
    }

    exec::DeadLetterQueue dead_letters;
    auto left_schema = RandomSchema("lid");
    auto right_schema = RandomSchema("rid");
    auto made = testing::ProcessorFromYaml(
        "join",
        "join: {left: l, right: r, on: {k: k}, type: " + param.type + ", " + param.step + "}",
        left_schema,
        JoinContext(&dead_letters, Stream("l", left_schema, "ts"),
                    Stream("r", right_schema, "ts")));
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    auto processor = std::move(*made);
    EXPECT_EQ(processor->output_schema()->field_names(),
              param.step.rfind("window", 0) == 0
                  ? (std::vector<std::string>{"window_start", "window_end", "lid", "k", "ts", "rid",
                                              "r_k", "r_ts"})
                  : (std::vector<std::string>{"lid", "k", "ts", "rid", "r_k", "r_ts"}));
    exec::CollectingEmitter out;

    // Runs of one side become batches; the watermark trails the latest time by the disorder.
    Timestamp watermark = exec::kMinTimestamp;
    Timestamp latest = exec::kMinTimestamp;
    size_t next = 0;
    while (next < events.size()) {
      const int side = events[next].side;
      size_t end = next;
      while (end < events.size() && events[end].side == side && end - next < 40) ++end;
      arrow::Int64Builder ids, keys;
      arrow::TimestampBuilder times(TimeType(), arrow::default_memory_pool());
      for (size_t i = next; i < end; ++i) {
        events[i].watermark_before = watermark;
        ASSERT_TRUE(ids.Append(events[i].id).ok());
        ASSERT_TRUE((events[i].key ? keys.Append(*events[i].key) : keys.AppendNull()).ok());
        ASSERT_TRUE(times.Append(events[i].time).ok());
        latest = std::max(latest, events[i].time);
      }
      auto batch = arrow::RecordBatch::Make(
          side == kLeft ? left_schema : right_schema, static_cast<int64_t>(end - next),
          {ids.Finish().ValueOrDie(), keys.Finish().ValueOrDie(), times.Finish().ValueOrDie()});
      ASSERT_TRUE(processor->ProcessInput(side, batch, out).ok());
      if (random() % 3 == 0 && latest - disorder > watermark) {
        watermark = latest - disorder;
        ASSERT_TRUE(processor->OnWatermark(watermark, out).ok());
      }
      next = end;
    }
    ASSERT_TRUE(processor->OnWatermark(exec::kMaxTimestamp, out).ok());
    ASSERT_TRUE(processor->Finish(out).ok());
    EXPECT_EQ(processor->state_bytes(), 0);
    EXPECT_EQ(dead_letters.total(), 0);

    // Every output row, with its columns checked against the input rows it names.
    std::array<std::map<int64_t, const Event*>, 2> by_id;
    for (const auto& event : events) by_id[event.side][event.id] = &event;
    std::vector<Match> actual;
    for (const auto& batch : out.batches()) {
      ASSERT_TRUE(batch->schema()->Equals(*processor->output_schema(), false));
      auto column = [&](const std::string& name) {
        return std::static_pointer_cast<arrow::Int64Array>(batch->GetColumnByName(name));
      };
      auto time_column = [&](const std::string& name) {
        return std::static_pointer_cast<arrow::TimestampArray>(batch->GetColumnByName(name));
      };
      auto lid = column("lid"), rid = column("rid"), lk = column("k"), rk = column("r_k");
      auto lts = time_column("ts"), rts = time_column("r_ts");
      auto starts = time_column("window_start");
      for (int64_t i = 0; i < batch->num_rows(); ++i) {
        Match match{lid->IsNull(i) ? -1 : lid->Value(i), rid->IsNull(i) ? -1 : rid->Value(i),
                    starts == nullptr ? 0 : starts->Value(i)};
        actual.push_back(match);
        for (int side : {kLeft, kRight}) {
          const int64_t id = side == kLeft ? std::get<0>(match) : std::get<1>(match);
          const auto& keys = side == kLeft ? lk : rk;
          const auto& times = side == kLeft ? lts : rts;
          if (id < 0) {
            EXPECT_TRUE(keys->IsNull(i) && times->IsNull(i));
            continue;
          }
          const Event& event = *by_id[side].at(id);
          EXPECT_EQ(times->Value(i), event.time);
          EXPECT_EQ(keys->IsNull(i), !event.key.has_value());
          if (event.key) EXPECT_EQ(keys->Value(i), *event.key);
        }
      }
    }
    Timestamp size = 10 * kSecond, slide = 10 * kSecond;
    if (param.step.find("sliding") != std::string::npos) slide = 4 * kSecond;
    std::vector<Match> expected =
        Reference(events, param.step.substr(0, param.step.find(':')), size, slide, -2 * kSecond,
                  3 * kSecond, 5 * kSecond, param.type == "left" || param.type == "full",
                  param.type == "right" || param.type == "full");
    std::sort(actual.begin(), actual.end());
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(actual.size(), expected.size());
    EXPECT_TRUE(actual == expected);
  }
}

std::vector<RandomCase> RandomCases() {
  std::vector<RandomCase> cases;
  for (const char* type : {"inner", "left", "right", "full"}) {
    cases.push_back({"window: {tumbling: 10s}", type});
    cases.push_back({"window: {sliding: {size: 10s, slide: 4s}}", type});
    cases.push_back({"interval: {lower: -2s, upper: 3s}", type});
    cases.push_back({"ttl: 5s", type});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(JoinRandom, JoinRandomTest, ::testing::ValuesIn(RandomCases()),
                         [](const ::testing::TestParamInfo<RandomCase>& info) {
                           std::string bound = info.param.step.substr(0, info.param.step.find(':'));
                           if (info.param.step.find("sliding") != std::string::npos)
                             bound = "sliding";
                           return bound + "_" + info.param.type;
                         });

}  // namespace
}  // namespace sluice::processors
