// The `sluice` command as a user runs it: exit codes, validate's error format, --set, the run
// summary, the progress line on a terminal, and a graceful stop on SIGTERM.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

struct Outcome {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

/// Runs a shell command line, capturing its output and exit status.
Outcome Shell(const std::string& command) {
  Outcome outcome;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return outcome;
  std::array<char, 4096> buffer;
  size_t read = 0;
  while ((read = fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    outcome.output.append(buffer.data(), read);
  int status = pclose(pipe);
  outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return outcome;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ =
        std::filesystem::temp_directory_path() / ("sluice-cli-" + std::to_string(getpid()));
    std::filesystem::create_directories(directory_);
  }
  void TearDown() override { std::filesystem::remove_all(directory_); }

  std::string Write(const std::string& name, const std::string& text) {
    std::string path = (directory_ / name).string();
    std::ofstream(path) << text;
    return path;
  }

  std::string binary_ = SLUICE_BINARY;
  std::filesystem::path directory_;
};

TEST_F(CliTest, RunPrintsASummaryAndExitsZero) {
  std::string out = (directory_ / "out.csv").string();
  std::string pipeline = Write("p.yaml",
                               "name: small\nsources: {q: {connector: generator, count: 1000}}\n"
                               "pipeline: [{filter: \"volume > 5000\"}]\n"
                               "sinks: {f: {connector: file, path: '" +
                                   out + "'}}\n");
  Outcome run = Shell(binary_ + " run " + pipeline);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("sluice: pipeline 'small' finished: 1000 rows in, "), std::string::npos)
      << run.output;
  EXPECT_TRUE(std::filesystem::exists(out));
}

TEST_F(CliTest, SetOverridesAKey) {
  std::string pipeline = Write("p.yaml",
                               "name: small\nsources: {q: {connector: generator, count: 1000}}\n"
                               "sinks: {b: {connector: blackhole}}\n");
  Outcome run = Shell(binary_ + " run " + pipeline + " --set sources.q.count=7");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find(": 7 rows in, 7 rows out"), std::string::npos) << run.output;
}

TEST_F(CliTest, SummaryCountsRowsPerSinkInWords) {
  std::string pipeline = Write("p.yaml",
                               "name: two\nsources: {q: {connector: generator, count: 100}}\n"
                               "pipeline: [{name: big, filter: \"volume > 5000\"}]\n"
                               "sinks: {screen: {connector: blackhole},\n"
                               "        archive: {connector: blackhole, input: q}}\n");
  Outcome run = Shell(binary_ + " run " + pipeline);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  // The filter keeps some of the 100 rows; the archive writes them all.
  size_t at = run.output.find("sluice: pipeline 'two' finished: 100 rows in, ");
  ASSERT_NE(at, std::string::npos) << run.output;
  int64_t out = 0, screen = 0, archive = 0, dead = -1;
  ASSERT_EQ(std::sscanf(run.output.c_str() + at,
                        "sluice: pipeline 'two' finished: 100 rows in, %ld rows out (screen: %ld, "
                        "archive: %ld), %ld dead letters",
                        &out, &screen, &archive, &dead),
            4)
      << run.output;
  EXPECT_EQ(archive, 100);
  EXPECT_GT(screen, 0);
  EXPECT_LT(screen, 100);
  EXPECT_EQ(out, screen + archive);
  EXPECT_EQ(dead, 0);

  std::string one = Write("one.yaml",
                          "name: one\nsources: {q: {connector: generator, count: 1}}\n"
                          "sinks: {a: {connector: blackhole}, b: {connector: blackhole}}\n");
  run = Shell(binary_ + " run " + one);
  EXPECT_NE(run.output.find("sluice: pipeline 'one' finished: 1 row in, 1 row out (a: 1, b: 1), "
                            "0 dead letters, "),
            std::string::npos)
      << run.output;
}

TEST_F(CliTest, SetErrorsNameTheArgument) {
  std::string pipeline = Write("p.yaml",
                               "name: small\nsources: {quotes: {connector: generator, count: 10}}\n"
                               "sinks: {b: {connector: blackhole}}\n");
  Outcome bad_value = Shell(binary_ + " run " + pipeline + " --set sources.quotes.count=abc");
  EXPECT_EQ(bad_value.exit_code, 2);
  EXPECT_EQ(bad_value.output,
            "--set sources.quotes.count=abc: error: count must be a whole number, not 'abc'\n");
  Outcome misspelled = Shell(binary_ + " validate " + pipeline + " --set sources.quote.count=5");
  EXPECT_EQ(misspelled.exit_code, 2);
  EXPECT_EQ(misspelled.output,
            "--set sources.quote.count=5: error: no 'quote' in sources\n"
            "  hint: did you mean 'quotes'?\n");
}

TEST_F(CliTest, ValidateReportsEveryErrorAndWarnings) {
  std::string pipeline = Write("bad.yaml",
                               "sources: {q: {connector: generator}}\n"
                               "pipeline:\n"
                               "  - window: {tumbling: 1m, aggregate: {n: count()}, lateness: 1s}\n"
                               "  - filter: {condition: \"n > 1\", when: 1}\n"
                               "sinks: {b: {connector: blackhole}}\n");
  Outcome outcome = Shell(binary_ + " validate " + pipeline);
  EXPECT_EQ(outcome.exit_code, 2) << outcome.output;
  EXPECT_NE(outcome.output.find(pipeline + ":3:"), std::string::npos) << outcome.output;
  EXPECT_NE(outcome.output.find(pipeline + ":4:"), std::string::npos) << outcome.output;
  size_t errors = 0;
  for (size_t at = outcome.output.find(": error: "); at != std::string::npos;
       at = outcome.output.find(": error: ", at + 1))
    ++errors;
  EXPECT_EQ(errors, 2u) << outcome.output;

  std::string unread = Write("unread.yaml",
                             "sources: {q: {connector: generator}}\n"
                             "pipeline:\n"
                             "  - {name: big, filter: \"volume > 5000\"}\n"
                             "  - {input: q, filter: \"volume < 10\"}\n"
                             "sinks: {b: {connector: blackhole}}\n");
  outcome = Shell(binary_ + " validate " + unread);
  EXPECT_EQ(outcome.exit_code, 0) << outcome.output;
  EXPECT_EQ(outcome.output.rfind(unread + ":3:5: warning: nothing reads the stream 'big'", 0), 0u)
      << outcome.output;
  EXPECT_NE(outcome.output.find(": ok"), std::string::npos) << outcome.output;
}

TEST_F(CliTest, UnknownCommandSuggestsTheClosest) {
  Outcome outcome = Shell(binary_ + " rnu p.yaml");
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_EQ(outcome.output, "sluice: unknown command 'rnu'\n  hint: did you mean 'run'?\n");
  outcome = Shell(binary_ + " --log-level warn valdiate p.yaml");
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_NE(outcome.output.find("did you mean 'validate'?"), std::string::npos) << outcome.output;
}

TEST_F(CliTest, LogLevelMayFollowTheSubcommand) {
  std::string pipeline = Write(
      "p.yaml",
      "sources: {q: {connector: generator, count: 10}}\nsinks: {b: {connector: blackhole}}\n");
  Outcome before = Shell(binary_ + " --log-level debug run " + pipeline);
  Outcome after = Shell(binary_ + " run " + pipeline + " --log-level debug");
  Outcome quiet = Shell(binary_ + " run " + pipeline);
  EXPECT_EQ(before.exit_code, 0) << before.output;
  EXPECT_EQ(after.exit_code, 0) << after.output;
  EXPECT_NE(after.output.find("debug"), std::string::npos) << after.output;
  EXPECT_NE(before.output.find("debug"), std::string::npos) << before.output;
  EXPECT_EQ(quiet.output.find("debug"), std::string::npos) << quiet.output;
}

TEST_F(CliTest, InvalidConfigurationExitsTwoWithAPosition) {
  std::string pipeline = Write(
      "bad.yaml",
      "sources: {q: {connector: generator, cuont: 10}}\nsinks: {b: {connector: blackhole}}\n");
  for (const char* command : {" validate ", " run "}) {
    Outcome outcome = Shell(binary_ + command + pipeline);
    EXPECT_EQ(outcome.exit_code, 2) << outcome.output;
    EXPECT_EQ(outcome.output, pipeline +
                                  ":1:37: error: unknown option 'cuont' for source generator\n"
                                  "  hint: did you mean 'count'?\n");
  }
  Outcome missing = Shell(binary_ + " validate " + (directory_ / "nothing.yaml").string());
  EXPECT_EQ(missing.exit_code, 2);
}

TEST_F(CliTest, ValidateAcceptsAGoodFile) {
  std::string pipeline =
      Write("p.yaml", "sources: {q: {connector: generator}}\nsinks: {b: {connector: blackhole}}\n");
  Outcome outcome = Shell(binary_ + " validate " + pipeline);
  EXPECT_EQ(outcome.exit_code, 0) << outcome.output;
  EXPECT_NE(outcome.output.find(": ok"), std::string::npos);
}

TEST_F(CliTest, RuntimeFailureExitsOne) {
  // The sink's folder is a file, so the output cannot be written: a failure of the run, not of
  // the configuration.
  std::string blocker = Write("blocker", "x");
  std::string pipeline = Write("p.yaml",
                               "sources: {q: {connector: generator, count: 10}}\n"
                               "sinks: {f: {connector: file, path: '" +
                                   blocker + "/out.csv'}}\n");
  Outcome outcome = Shell(binary_ + " run " + pipeline);
  EXPECT_EQ(outcome.exit_code, 1) << outcome.output;
  EXPECT_NE(outcome.output.find("failed"), std::string::npos) << outcome.output;
}

TEST_F(CliTest, PluginsListsEveryOption) {
  Outcome all = Shell(binary_ + " plugins");
  EXPECT_EQ(all.exit_code, 0);
  for (const char* name : {"source file", "source generator", "processor filter",
                           "processor window", "sink console"}) {
    EXPECT_NE(all.output.find(name), std::string::npos) << name;
  }
  Outcome one = Shell(binary_ + " plugins generator");
  EXPECT_NE(one.output.find("seed"), std::string::npos);
  EXPECT_EQ(Shell(binary_ + " plugins nosuchplugin").exit_code, 2);
  Outcome misspelled = Shell(binary_ + " plugins generatr");
  EXPECT_EQ(misspelled.exit_code, 2);
  EXPECT_EQ(misspelled.output,
            "sluice: no plugin called 'generatr'\n  hint: did you mean 'generator'?\n");
}

TEST_F(CliTest, PluginsListHasOneLinePerPlugin) {
  Outcome list = Shell(binary_ + " plugins --list");
  EXPECT_EQ(list.exit_code, 0) << list.output;
  // As many lines as the full reference has plugin headings ("source file", ...).
  Outcome all = Shell(binary_ + " plugins");
  size_t headings = 0;
  std::istringstream reference(all.output);
  for (std::string line; std::getline(reference, line);) {
    for (const char* kind : {"source ", "processor ", "sink "}) {
      if (line.rfind(kind, 0) == 0) ++headings;
    }
  }
  size_t lines = 0;
  std::istringstream listed(list.output);
  for (std::string line; std::getline(listed, line);) {
    ++lines;
    std::istringstream words(line);
    std::string kind, name, first_word;
    words >> kind >> name >> first_word;
    EXPECT_TRUE(kind == "source" || kind == "processor" || kind == "sink") << line;
    EXPECT_FALSE(first_word.empty()) << "no description: " << line;
  }
  EXPECT_EQ(lines, headings) << list.output;
  EXPECT_NE(list.output.find("source    generator "), std::string::npos) << list.output;
}

TEST_F(CliTest, ShowsProgressOnATerminal) {
  std::string pipeline =
      Write("p.yaml",
            "sources: {q: {connector: generator, count: 20000, rate: 20000, batch_size: 500}}\n"
            "sinks: {b: {connector: blackhole}}\n");
  // `script` gives the run a terminal; without one (the other tests) no progress line appears.
  Outcome outcome = Shell("script -qec '" + binary_ + " run " + pipeline + "' /dev/null");
  EXPECT_EQ(outcome.exit_code, 0) << outcome.output;
  EXPECT_NE(outcome.output.find("rows/s"), std::string::npos) << outcome.output;
  EXPECT_NE(outcome.output.find("rows out, 0 dead letters"), std::string::npos) << outcome.output;
  EXPECT_NE(outcome.output.find("\r"), std::string::npos);
  // With event time the line shows the watermark.
  std::string timed =
      Write("timed.yaml",
            "sources: {q: {connector: generator, count: 20000, rate: 20000, batch_size: 500,\n"
            "              start: '2024-01-01T00:00:00Z', event_time: ts}}\n"
            "sinks: {b: {connector: blackhole}}\n");
  Outcome watermark = Shell("script -qec '" + binary_ + " run " + timed + "' /dev/null");
  EXPECT_EQ(watermark.exit_code, 0) << watermark.output;
  EXPECT_NE(watermark.output.find(", watermark 2024-01-01T"), std::string::npos)
      << watermark.output;
  Outcome plain = Shell(binary_ + " run " + pipeline);
  EXPECT_EQ(plain.output.find("\r"), std::string::npos);
}

TEST_F(CliTest, SigtermDrainsFlushesAndCommits) {
  std::string out = (directory_ / "live.jsonl").string();
  std::string pipeline =
      Write("p.yaml",
            "sources: {q: {connector: generator, rate: 50000, batch_size: 1000}}\n"
            "sinks: {f: {connector: file, path: '" +
                out + "'}}\n");
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(null, STDERR_FILENO);
    execl(binary_.c_str(), binary_.c_str(), "run", "--no-progress", pipeline.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_FALSE(std::filesystem::exists(out)) << "the file appears only when the run commits";
  kill(child, SIGTERM);
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  ASSERT_TRUE(std::filesystem::exists(out));
  std::ifstream lines(out);
  int64_t rows = 0;
  for (std::string line; std::getline(lines, line);) ++rows;
  EXPECT_GT(rows, 10000);  // about 1.5 s at 50,000 rows/s, every row that was read
}

}  // namespace

// Standard input and output: every format through real pipes between `sluice` processes.
class StdioCliTest : public CliTest {
 protected:
  /// Runs `command` (whose stderr goes to a file, so that only data is captured) and returns
  /// its standard output; the exit code goes to `exit_code`.
  std::string Stdout(const std::string& command, int* exit_code) {
    std::string errors = (directory_ / "stderr.txt").string();
    Outcome outcome = Shell("{ { " + command + "; } 2>" + errors + "; }");
    *exit_code = outcome.exit_code;
    std::ifstream file(errors);
    std::stringstream text;
    text << file.rdbuf();
    errors_ = text.str();
    return outcome.output;
  }

  std::string errors_;
};

TEST_F(StdioCliTest, StdinToStdoutConvertsCsvToJsonLines) {
  std::string pipeline = Write("p.yaml",
                               "name: pipe\n"
                               "sources: {in: {connector: stdin, format: csv,"
                               " schema: {id: int64, name: string}}}\n"
                               "sinks: {out: {connector: stdout, format: jsonl}}\n");
  int code = -1;
  std::string output =
      Stdout("printf 'id,name\\n1,a\\n2,b\\nx,c\\n' | " + binary_ + " run " + pipeline, &code);
  EXPECT_EQ(code, 0) << errors_;
  EXPECT_EQ(output, "{\"id\":1,\"name\":\"a\"}\n{\"id\":2,\"name\":\"b\"}\n");
  // The summary and the bad row's count are on stderr, not mixed into the data.
  EXPECT_NE(errors_.find("3 rows in, 2 rows out, 1 dead letter,"), std::string::npos) << errors_;
}

TEST_F(StdioCliTest, EveryFormatGoesThroughAPipeBetweenTwoRuns) {
  std::string input =
      Write("in.csv", "id,price,ts\n1,1.5,2024-03-01T00:00:00Z\n2,,2024-03-01T00:00:01Z\n");
  std::string expected =
      "{\"id\":1,\"price\":1.5,\"ts\":\"2024-03-01T00:00:00Z\"}\n"
      "{\"id\":2,\"price\":null,\"ts\":\"2024-03-01T00:00:01Z\"}\n";
  for (const char* format : {"csv", "jsonl", "arrow"}) {
    // The writer's stdout is a file sink with path: -, the reader's stdin a file source with
    // path: -, and the other way round, so that both spellings are used.
    std::string writer =
        Write(std::string("w-") + format + ".yaml",
              "name: writer\nsources: {in: {connector: file, path: '" + input +
                  "'}}\nsinks: {out: {connector: stdout, format: " + format + "}}\n");
    std::string reader = Write(
        std::string("r-") + format + ".yaml",
        "name: reader\nsources: {in: {connector: file, path: '-', format: " + std::string(format) +
            "}}\nsinks: {out: {connector: file, path: '-', format: jsonl}}\n");
    int code = -1;
    std::string output =
        Stdout(binary_ + " run " + writer + " | " + binary_ + " run " + reader, &code);
    EXPECT_EQ(code, 0) << format << ": " << errors_;
    EXPECT_EQ(output, expected) << format;
  }
  // Parquet goes to stdout too (it needs no seeking to write); a file of it reads back.
  std::string parquet = (directory_ / "out.parquet").string();
  std::string writer =
      Write("w-parquet.yaml", "name: writer\nsources: {in: {connector: file, path: '" + input +
                                  "'}}\nsinks: {out: {connector: stdout, format: parquet}}\n");
  std::string reader =
      Write("r-parquet.yaml", "name: reader\nsources: {in: {connector: file, path: '" + parquet +
                                  "'}}\nsinks: {out: {connector: stdout, format: jsonl}}\n");
  int code = -1;
  Stdout(binary_ + " run " + writer + " > " + parquet, &code);
  EXPECT_EQ(code, 0) << errors_;
  EXPECT_EQ(Stdout(binary_ + " run " + reader, &code), expected);
}

TEST_F(StdioCliTest, ParquetFromStdinIsAConfigurationError) {
  for (const char* source :
       {"{connector: stdin, format: parquet}", "{connector: file, path: '-', format: parquet}"}) {
    std::string pipeline = Write("p.yaml", std::string("sources: {in: ") + source +
                                               "}\nsinks: {out: {connector: blackhole}}\n");
    Outcome outcome = Shell("true | " + binary_ + " run " + pipeline);
    EXPECT_EQ(outcome.exit_code, 2) << outcome.output;
    EXPECT_NE(outcome.output.find("Parquet cannot be read from standard input"), std::string::npos)
        << outcome.output;
  }
  std::string no_format =
      Write("p.yaml",
            "sources: {in: {connector: file, path: '-'}}\nsinks: {out: {connector: "
            "blackhole}}\n");
  Outcome outcome = Shell("true | " + binary_ + " run " + no_format);
  EXPECT_EQ(outcome.exit_code, 2) << outcome.output;
  EXPECT_NE(outcome.output.find("add format: csv, jsonl, arrow or avro"), std::string::npos)
      << outcome.output;
}

TEST_F(StdioCliTest, TimeFormatsAndEpochUnitsFromThePipelineFile) {
  std::string pipeline =
      Write("p.yaml",
            "name: times\n"
            "sources:\n"
            "  in:\n"
            "    connector: stdin\n"
            "    format: csv\n"
            "    schema: {when: timestamp, ms: timestamp_ms, s: timestamp_s, guessed: timestamp}\n"
            "    time_format: {when: \"%d/%m/%Y %H:%M\"}\n"
            "sinks: {out: {connector: stdout, format: jsonl}}\n");
  int code = -1;
  // 1709251200 is guessed to be seconds; as milliseconds it is early 1970.
  std::string output = Stdout(
      "printf 'when,ms,s,guessed\\n01/03/2024 13:45,1709251200,1709251200,1709251200\\n' | " +
          binary_ + " run " + pipeline,
      &code);
  EXPECT_EQ(code, 0) << errors_;
  EXPECT_EQ(output,
            "{\"when\":\"2024-03-01T13:45:00Z\",\"ms\":\"1970-01-20T18:47:31.2Z\","
            "\"s\":\"2024-03-01T00:00:00Z\",\"guessed\":\"2024-03-01T00:00:00Z\"}\n");

  // One format for every timestamp field.
  std::string shared = Write("shared.yaml",
                             "sources: {in: {connector: stdin, format: jsonl, schema: {a: "
                             "timestamp, b: date}, time_format: \"%Y%m%d\"}}\n"
                             "sinks: {out: {connector: stdout, format: jsonl}}\n");
  output = Stdout(
      "printf '{\"a\":\"20240301\",\"b\":\"20240302\"}\\n' | " + binary_ + " run " + shared, &code);
  EXPECT_EQ(code, 0) << errors_;
  EXPECT_EQ(output, "{\"a\":\"2024-03-01T00:00:00Z\",\"b\":\"2024-03-02\"}\n");

  // Mistakes are configuration errors at their place.
  for (const auto& [time_format, message] : std::vector<std::pair<std::string, std::string>>{
           {"{id: \"%Y\"}", "time_format is for timestamp and date fields; 'id' is int64"},
           {"{nope: \"%Y\"}", "time_format names 'nope', which is not in the schema"},
           {"{a: \"%Q\"}", "unknown directive '%Q'"}}) {
    std::string bad = Write(
        "bad.yaml", "sources: {in: {connector: file, path: '" + Write("x.csv", "id,a\n1,2024\n") +
                        "', schema: {id: int64, a: timestamp}, time_format: " + time_format +
                        "}}\nsinks: {b: {connector: blackhole}}\n");
    Outcome outcome = Shell(binary_ + " validate " + bad);
    EXPECT_EQ(outcome.exit_code, 2) << outcome.output;
    EXPECT_NE(outcome.output.find(message), std::string::npos) << outcome.output;
    EXPECT_NE(outcome.output.find("bad.yaml:1:"), std::string::npos) << outcome.output;
  }
}
