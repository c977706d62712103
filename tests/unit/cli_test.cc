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
  EXPECT_NE(outcome.output.find("\r"), std::string::npos);
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
