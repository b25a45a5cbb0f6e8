// Data-parallel training with several processes on localhost (Gloo), started by the test itself with
// the environment torchrun sets: the same steps as one process, resume across world sizes, faults.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>

#include "tests/cli/cli_support.h"

using namespace performer::clitest;

namespace {

// A TCP port nobody listens on now.
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t size = sizeof address;
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  ::close(fd);
  return ntohs(address.sin_port);
}

// `performer args` as ranks 0..world-1 of one run; each rank's output in the test folder. Returns the
// exit codes and outputs.
std::vector<Result> run_ranks(int world, const std::string& args, const std::string& tag) {
  const int port = free_port();
  std::string script = "(";
  for (int r = 0; r < world; ++r) {
    const std::string out = (test_dir() / (tag + "-rank" + std::to_string(r) + ".txt")).string();
    script += "MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port) + " WORLD_SIZE=" + std::to_string(world) +
              " RANK=" + std::to_string(r) + " LOCAL_RANK=" + std::to_string(r) + " " + PERFORMER_EXE + " " + args +
              " > " + out + " 2>&1; echo $? > " + out + ".code) & ";
    script += "(";
  }
  script.resize(script.size() - 1);
  script += "wait";
  run_command(script);
  std::vector<Result> results(world);
  for (int r = 0; r < world; ++r) {
    const auto out = test_dir() / (tag + "-rank" + std::to_string(r) + ".txt");
    results[r].output = read_file(out);
    results[r].code = std::atoi(read_file(out.string() + ".code").c_str());
  }
  return results;
}

// step -> loss, and step -> valid loss, of a training log.
std::pair<std::map<int, double>, std::map<int, double>> losses(const std::string& log) {
  std::map<int, double> train, valid;
  std::istringstream in(read_file(log));
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j["event"] == "step") train[j["step"].get<int>()] = j["loss"].get<double>();
    if (j["event"] == "eval") valid[j["step"].get<int>()] = j["valid_loss"].get<double>();
  }
  return {train, valid};
}

void expect_same(const std::string& log_a, const std::string& log_b, size_t steps) {
  const auto [train_a, valid_a] = losses(log_a);
  const auto [train_b, valid_b] = losses(log_b);
  ASSERT_EQ(train_a.size(), steps) << read_file(log_a);
  ASSERT_EQ(train_b.size(), steps) << read_file(log_b);
  for (const auto& [step, loss] : train_a) EXPECT_NEAR(loss, train_b.at(step), 2e-5) << "step " << step;
  ASSERT_FALSE(valid_a.empty());
  ASSERT_EQ(valid_a.size(), valid_b.size());
  for (const auto& [step, loss] : valid_a) EXPECT_NEAR(loss, valid_b.at(step), 2e-5) << "eval at step " << step;
}

std::string prepared_data() {
  const std::string dir = (test_dir() / "prepared").string();
  if (!std::filesystem::exists(dir)) {
    const Result r = run("data prepare " + write("d.fasta", protein_fasta(500)) + " --out " + dir + " --valid 0.1 --test 0");
    EXPECT_EQ(r.code, 0) << r.output;
  }
  return dir;
}

std::string train_args(const std::string& data, const std::string& objective, const std::string& name,
                       const std::string& limits = "--max-steps 6 --dist-timeout 60") {
  return "--threads 1 train --data " + data + " --objective " + objective +
         " --preset tiny --tokens-per-batch 1024 --max-length 128 --warmup 2 --log-every 1 --eval-every 3 "
         "--eval-batches 5 --redraw-interval 2 " + limits + " --out " +
         (test_dir() / (name + ".pt")).string() + " --log " + (test_dir() / (name + ".jsonl")).string();
}

}  // namespace

TEST(Distributed, TwoRanksTakeTheStepsOfOneProcessThatAccumulatesTheirBatches) {
  const std::string data = prepared_data();
  for (const std::string objective : {"mlm", "ar"}) {
    // One process, 2 (then 4) micro-batches a step; 2 ranks with 1 (then 2) each: the same batches.
    for (int accumulation : {1, 2}) {
      const std::string tag = objective + std::to_string(accumulation);
      const Result one = run(train_args(data, objective, "one-" + tag) + " --accumulation " + std::to_string(2 * accumulation));
      ASSERT_EQ(one.code, 0) << one.output;
      const auto ranks = run_ranks(2, train_args(data, objective, "two-" + tag) + " --accumulation " +
                                          std::to_string(accumulation), tag);
      for (const auto& r : ranks) ASSERT_EQ(r.code, 0) << r.output;
      EXPECT_NE(ranks[0].output.find("2 processes (torchrun, Gloo)"), std::string::npos) << ranks[0].output;
      EXPECT_EQ(ranks[1].output.find("step"), std::string::npos) << ranks[1].output;  // rank 0 reports
      expect_same((test_dir() / ("one-" + tag + ".jsonl")).string(), (test_dir() / ("two-" + tag + ".jsonl")).string(), 6);
      const auto first = nlohmann::json::parse(read_file(test_dir() / ("two-" + tag + ".jsonl")).substr(0, read_file(test_dir() / ("two-" + tag + ".jsonl")).find('\n')));
      EXPECT_EQ(first["world"], 2);
      EXPECT_GT(first["allreduce_bytes"].get<int64_t>(), 0);
      // The weights: the same evaluation of both checkpoints.
      const Result a = run("--threads 1 evaluate " + (test_dir() / ("one-" + tag + ".pt")).string() + " " + data);
      const Result b = run("--threads 1 evaluate " + (test_dir() / ("two-" + tag + ".pt")).string() + " " + data);
      ASSERT_EQ(a.code, 0) << a.output;
      EXPECT_NEAR(json_of(a.output)["loss"].get<double>(), json_of(b.output)["loss"].get<double>(), 2e-5);
    }
  }
}

TEST(Distributed, FastaIsSplitByBatchesAcrossRanks) {
  const std::string fasta = write("train.fasta", protein_fasta(300));
  const Result one = run(train_args(fasta, "mlm", "one") + " --accumulation 3");
  ASSERT_EQ(one.code, 0) << one.output;
  const auto ranks = run_ranks(3, train_args(fasta, "mlm", "three"), "fasta");
  for (const auto& r : ranks) ASSERT_EQ(r.code, 0) << r.output;
  expect_same((test_dir() / "one.jsonl").string(), (test_dir() / "three.jsonl").string(), 6);
}

TEST(Distributed, ResumesOnAnotherNumberOfRanks) {
  const std::string data = prepared_data();
  const Result straight = run(train_args(data, "mlm", "straight") + " --accumulation 2");
  ASSERT_EQ(straight.code, 0) << straight.output;
  // 2 ranks for 3 steps, then 1 process with 2 micro-batches a step; and the other way round.
  const std::string a = train_args(data, "mlm", "a"), b = train_args(data, "mlm", "b");
  for (const auto& r : run_ranks(2, a + " --stop-at 3", "a1")) ASSERT_EQ(r.code, 0) << r.output;
  const Result a2 = run(a + " --accumulation 2 --resume " + (test_dir() / "a.pt").string());
  ASSERT_EQ(a2.code, 0) << a2.output;
  const Result b1 = run(b + " --accumulation 2 --stop-at 3");
  ASSERT_EQ(b1.code, 0) << b1.output;
  for (const auto& r : run_ranks(2, b + " --resume " + (test_dir() / "b.pt").string(), "b2")) {
    ASSERT_EQ(r.code, 0) << r.output;
  }
  expect_same((test_dir() / "straight.jsonl").string(), (test_dir() / "a.jsonl").string(), 6);
  expect_same((test_dir() / "straight.jsonl").string(), (test_dir() / "b.jsonl").string(), 6);
}

TEST(Distributed, AKilledRankEndsTheOthersWithAnErrorNotAHang) {
  const std::string data = prepared_data();
  const int port = free_port();
  const std::string args = train_args(data, "mlm", "killed", "--max-steps 100000 --dist-timeout 30");
  const std::string env = "MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port) + " WORLD_SIZE=2 ";
  const std::string out0 = (test_dir() / "rank0.txt").string(), log = (test_dir() / "killed.jsonl").string();
  // Rank 1 is killed once rank 0 has logged a step; rank 0 must then end on its own, with exit 1.
  const Result r = run_command(
      "(" + env + "RANK=0 " + PERFORMER_EXE + " " + args + " > " + out0 + " 2>&1; echo $? > " + out0 + ".code) & " +
      env + "RANK=1 " + PERFORMER_EXE + " " + args + " > /dev/null 2>&1 & rank1=$!; "
      "for i in $(seq 600); do grep -q step " + log + " 2>/dev/null && break; sleep 0.1; done; "
      "kill -9 $rank1; start=$(date +%s); wait; echo waited $(( $(date +%s) - start ))");
  EXPECT_EQ(std::atoi(read_file(out0 + ".code").c_str()), 1) << read_file(out0);
  const std::string output = read_file(out0);
  EXPECT_NE(output.find("error: distributed (rank 0 of 2)"), std::string::npos) << output;
  const int waited = std::atoi(r.output.substr(r.output.find("waited ") + 7).c_str());
  EXPECT_LT(waited, 30) << r.output;  // well before --dist-timeout: the closed connection is seen at once
}

TEST(Distributed, ALauncherEnvironmentThatMakesNoSenseIsAOneLineError) {
  const std::string data = prepared_data();
  const std::string args = " " + std::string(PERFORMER_EXE) + " " + train_args(data, "mlm", "bad", "--max-steps 6");
  Result r = run_command("RANK=3 WORLD_SIZE=2" + args);
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("rank 3 is not in a world of 2"), std::string::npos) << r.output;
  r = run_command("RANK=0 WORLD_SIZE=2 MASTER_PORT=http" + args);
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("MASTER_PORT='http' is not a number"), std::string::npos) << r.output;
  // A second process that finds no rendezvous: an error after --dist-timeout, not a hang.
  r = run_command("RANK=1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(free_port()) + args +
                  " --dist-timeout 3");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("cannot reach the rendezvous"), std::string::npos) << r.output;
}
