// The performer executable end to end: exit codes, one-line errors, tables and CSV files.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace {

struct Result {
  int code = -1;
  std::string output;  // stdout and stderr together
};

Result run(const std::string& args) {
  const std::string command = std::string(PERFORMER_EXE) + " " + args + " 2>&1";
  Result r;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
  const int status = pclose(pipe);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::filesystem::path temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("performer-cli-test-" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace

TEST(Cli, UsageErrorsExitTwo) {
  EXPECT_EQ(run("").code, 2);
  EXPECT_EQ(run("no-such-command").code, 2);
  EXPECT_EQ(run("bench attention --direction sideways").code, 2);
  EXPECT_EQ(run("bench attention --lengths abc").code, 2);
  Result help = run("bench attention --help");
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.output.find("--lengths"), std::string::npos);
  EXPECT_NE(help.output.find("16384"), std::string::npos) << "defaults shown in --help";
}

TEST(Cli, BadValuesExitOneWithOneLineError) {
  Result r = run("bench attention --kinds favor_magic --lengths 64 --csv ''");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.output.rfind("error: unknown attention kind 'favor_magic'", 0), 0u) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  Result unwritable = run("bench attention --kinds dummy --lengths 8 --repeats 1 --csv /nonexistent/dir/x.csv");
  EXPECT_EQ(unwritable.code, 1);
  EXPECT_NE(unwritable.output.find("error: cannot write '/nonexistent/dir/x.csv'"), std::string::npos);
}

TEST(Cli, InfoReportsVersionThreadsAndBlas) {
  Result r = run("--threads 1 info");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("libtorch"), std::string::npos);
  EXPECT_NE(r.output.find("threads          1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("GFLOP/s"), std::string::npos);
}

TEST(Cli, BenchAttentionPrintsTableAndWritesCsv) {
  auto dir = temp_dir("bench");
  const auto csv = dir / "attention.csv";
  Result r = run("--threads 1 bench attention --kinds exact,favor_softmax,dummy --lengths 64,128 "
                 "--heads 2 --dim 16 --features 32 --repeats 1 --csv " + csv.string());
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string text = read_file(csv);
  std::istringstream lines(text);
  std::string header;
  std::getline(lines, header);
  EXPECT_EQ(header, "kind,direction,length,pass,median_ms,peak_mib,vs_exact,vs_dummy,runs,note");
  int rows = 0, exact_rows = 0;
  for (std::string line; std::getline(lines, line);) {
    ++rows;
    if (line.rfind("exact,", 0) == 0) {
      ++exact_rows;
      EXPECT_NE(line.find(",1.000,"), std::string::npos) << "exact's ratio to itself: " << line;
    }
  }
  EXPECT_EQ(rows, 3 * 2 * 2 * 2);  // kinds x directions x lengths x passes
  EXPECT_EQ(exact_rows, 8);
  EXPECT_NE(r.output.find("favor_softmax"), std::string::npos);
}

TEST(Cli, BenchAttentionSkipsCasesOverTheMemoryLimit) {
  Result r = run("--threads 1 bench attention --kinds exact,favor_relu --lengths 256 --direction causal "
                 "--pass forward --heads 1 --dim 8 --features 8 --repeats 1 --max-memory 0.0001 --csv ''");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("skipped: needs"), std::string::npos) << r.output;
}

TEST(Cli, BenchApproxWritesErrorsThatShrinkWithFeatures) {
  auto dir = temp_dir("approx");
  const auto csv = dir / "approx.csv";
  Result r = run("--threads 1 bench approx --features 8,256 --length 64 --dim 16 --seeds 2 "
                 "--input-std 0.25 --csv " + csv.string());
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string text = read_file(csv);
  EXPECT_EQ(text.rfind("input_std,kind,projection,features,output_rel_error,weight_mae\n", 0), 0u) << text;
  EXPECT_NE(text.find("0.25,favor_softmax,orthogonal,8,"), std::string::npos) << text;
  EXPECT_NE(text.find("0.25,favor_relu,orthogonal,256,"), std::string::npos) << text;
}
