#pragma once
// What the CLI tests share: running the performer executable, files in a folder of the running test,
// small FASTA inputs and models, and reading the outputs (JSON with nlohmann-json, .npy headers).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/wait.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace performer::clitest {

struct Result {
  int code = -1;
  std::string output;  // stdout and stderr together
};

// Runs a shell command line; stdout and stderr together.
inline Result run_command(const std::string& command_line) {
  const std::string command = command_line + " 2>&1";
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

// performer with these arguments.
inline Result run(const std::string& args) { return run_command(std::string(PERFORMER_EXE) + " " + args); }

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The lines of a CSV file, header first.
inline std::vector<std::string> csv_lines(const std::filesystem::path& path) {
  std::istringstream in(read_file(path));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

inline std::filesystem::path temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("performer-cli-test-" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}


// A folder of the running test's own: ctest runs tests in parallel.
inline std::filesystem::path test_dir() {
  static std::string made;
  const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  auto dir = std::filesystem::temp_directory_path() / ("performer-cli-test-" + name);
  if (made != name) {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    made = name;
  }
  return dir;
}

inline std::string write(const std::string& name, const std::string& text) {
  auto path = test_dir() / name;
  std::ofstream(path, std::ios::binary) << text;
  return path.string();
}

inline const std::string kFasta =
    ">sp|P00974|BPT1_BOVIN Pancreatic trypsin inhibitor OS=Bos taurus OX=9913 PE=1 SV=2\n"
    "MKMSRLCLSVALLVLLGTLAASTPGCDTSNQAKAQRPDFCLEPPYTGPCKARIIRYFYNA\n"
    "KAGLCQTFVYGGCRAKRNNFKSAEDCMRTCGGAIGPWENL\n"
    ">tr|Q00001|Q00001_HUMAN Other OS=Homo sapiens OX=9606 PE=4 SV=1\n"
    "MKVLAAGGW\n"
    ">UniRef50_Q00002 Cluster n=3 Tax=Homo sapiens TaxID=9606 RepID=Q00002_HUMAN\n"
    "ACDEFGHIKLMNPQRSTVWY\n";


inline std::string protein_fasta(int n) {
  std::string text;
  const std::string letters = "ACDEFGHIKLMNPQRSTVWY";
  for (int i = 0; i < n; ++i) {
    text += ">sp|T" + std::to_string(1000 + i) + "|T_HUMAN test OS=Homo sapiens OX=9606\n";
    for (int j = 0; j < 30 + (i * 13) % 70; ++j) text += letters[(i * 3 + j * j) % 20];
    text += "\n";
  }
  return text;
}


// The JSON object of a command's output: its last line that starts with '{' (stderr's lines are
// mixed in by run()), parsed by nlohmann-json.
inline nlohmann::json json_of(const std::string& output) {
  std::istringstream lines(output);
  std::string line, last;
  while (std::getline(lines, line)) {
    if (!line.empty() && line[0] == '{') last = line;
  }
  return nlohmann::json::parse(last);
}

// A number of a JSON line (the training log, evaluate's output); NaN when absent or null.
inline double json_number(const std::string& line, const std::string& key) {
  const nlohmann::json j = json_of(line);
  return j.contains(key) && j[key].is_number() ? j[key].get<double>() : std::nan("");
}

inline std::string json_event(const std::string& line) { return json_of(line).value("event", ""); }


// A tiny model trained for a few steps in the running test's folder.
inline std::string tiny_checkpoint(const std::string& objective) {
  const std::string data = write("model-data.fasta", protein_fasta(60));
  const std::string path = (test_dir() / (objective + ".pt")).string();
  Result r = run("--threads 1 train --data " + data + " --preset tiny --objective " + objective +
                 " --attention favor_softmax --max-steps 3 --eval-every 0 --tokens-per-batch 1024 --out " + path);
  EXPECT_EQ(r.code, 0) << r.output;
  return path;
}

inline const std::string kBpt1 =
    ">sp|P00974|BPT1_BOVIN Pancreatic trypsin inhibitor OS=Bos taurus OX=9913 PE=1 SV=2\n"
    "MKMSRLCLSVALLVLLGTLAASTPGCDTSNQAKAQRPDFCLEPPYTGPCKARIIRYFYNA\n"
    "KAGLCQTFVYGGCRAKRNNFKSAEDCMRTCGGAIGPWENL\n";

// The shape in a .npy header: "(2, 4, 100, 100)".
inline std::string npy_shape(const std::filesystem::path& path) {
  const std::string bytes = read_file(path);
  const size_t s = bytes.find("'shape': ");
  return s == std::string::npos ? "" : bytes.substr(s + 9, bytes.find(')', s) - s - 8);
}


}  // namespace performer::clitest
