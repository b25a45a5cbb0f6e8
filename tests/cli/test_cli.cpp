// The performer executable end to end: exit codes, one-line errors, tables and CSV files.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tests/cli/cli_support.h"

using namespace performer::clitest;


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

TEST(Cli, BadValuesAreUsageErrorsAndBadFilesOneLineErrors) {
  // A name outside a fixed set is a usage error (exit 2), naming the option and the accepted names.
  Result r = run("bench attention --kinds favor_magic --lengths 64 --csv ''");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.output.rfind("--kinds: favor_magic not in {exact,favor_softmax,favor_trig,favor_relu,dummy}", 0), 0u)
      << r.output;
  Result unwritable = run("bench attention --kinds dummy --lengths 8 --repeats 1 --csv /nonexistent/dir/x.csv");
  EXPECT_EQ(unwritable.code, 1);
  EXPECT_NE(unwritable.output.find("error: cannot write '/nonexistent/dir/x.csv': No such file or directory"),
            std::string::npos) << unwritable.output;
  // --csv -: the CSV alone on standard output (the text table goes to stderr).
  Result to_stdout = run("bench attention --kinds dummy --lengths 8 --repeats 1 --direction causal --pass forward "
                         "--csv - 2>/dev/null; exit $?");  // (run() adds 2>&1 to the shell's last command)
  EXPECT_EQ(to_stdout.code, 0) << to_stdout.output;
  EXPECT_EQ(to_stdout.output.rfind("kind,direction,length,pass,median_ms", 0), 0u) << to_stdout.output;
  EXPECT_EQ(std::count(to_stdout.output.begin(), to_stdout.output.end(), '\n'), 2) << to_stdout.output;
  EXPECT_FALSE(std::filesystem::exists("-"));
  // A full standard output is an error, not a silent exit 0.
  Result full = run("bench attention --kinds dummy --lengths 8 --repeats 1 --direction causal --pass forward "
                    "--csv - 2>&1 >/dev/full; exit $?");
  EXPECT_EQ(full.code, 1) << full.output;
  EXPECT_NE(full.output.find("error: cannot write to standard output: No space left on device"), std::string::npos)
      << full.output;
}

TEST(Cli, InfoReportsVersionThreadsAndBlas) {
  Result r = run("--threads 1 info");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("libtorch"), std::string::npos);
  EXPECT_NE(r.output.find("threads          1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("GFLOP/s"), std::string::npos);
  EXPECT_NE(r.output.find("matmul bf16      "), std::string::npos) << r.output;
  // BLIS does not follow LibTorch's thread setting: --threads must reach it too. What info reports is
  // the count BLIS is told (BLIS_NUM_THREADS); BLIS's libblas.so.3 has no call to read it back.
  Result two = run("--threads 2 info");
  ASSERT_EQ(two.code, 0) << two.output;
  if (two.output.find("blas             BLIS") != std::string::npos) {
    EXPECT_NE(two.output.find("BLIS (openmp), 2 threads"), std::string::npos) << two.output;
    EXPECT_NE(r.output.find("BLIS (openmp), 1 thread\n"), std::string::npos) << r.output;
  }
}

TEST(Cli, BenchAttentionPrintsTableAndWritesCsv) {
  auto dir = temp_dir("bench");
  const auto csv = dir / "attention.csv";
  Result r = run("--threads 1 bench attention --kinds exact,favor_softmax,dummy --lengths 64,128 "
                 "--heads 2 --dim 16 --features 32 --repeats 1 --csv " + csv.string());
  ASSERT_EQ(r.code, 0) << r.output;
  const auto lines = csv_lines(csv);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines[0], "kind,direction,length,pass,median_ms,peak_mib,vs_exact,vs_dummy,runs,note");
  int exact_rows = 0;
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    if (line.rfind("exact,", 0) == 0) {
      ++exact_rows;
      EXPECT_NE(line.find(",1.000,"), std::string::npos) << "exact's ratio to itself: " << line;
    }
  }
  EXPECT_EQ(lines.size(), 1u + 3 * 2 * 2 * 2);  // header, kinds x directions x lengths x passes
  EXPECT_EQ(exact_rows, 8);
  EXPECT_NE(r.output.find("favor_softmax"), std::string::npos);
}

TEST(Cli, BenchAttentionSkipsCasesOverTheMemoryLimit) {
  Result r = run("--threads 1 bench attention --kinds exact,favor_relu --lengths 256 --direction causal "
                 "--pass forward --heads 1 --dim 8 --features 8 --repeats 1 --max-memory 0.0001 --csv ''");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("skipped: needs"), std::string::npos) << r.output;
}

TEST(Cli, BenchModelTimesEveryKindAndObjectiveWithRatiosToDummy) {
  auto dir = temp_dir("bench-model");
  const auto csv = dir / "model.csv";
  Result r = run("--threads 1 bench model --preset tiny --features 16 --objectives mlm,ar "
                 "--kinds exact,favor_relu,dummy --lengths 32,48 --repeats 1 --csv " + csv.string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("bench model: preset tiny, features 16,"), std::string::npos) << r.output;
  const auto lines = csv_lines(csv);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines[0], "kind,objective,length,step_ms,tokens_per_s,peak_mib,vs_dummy,vs_exact,runs,note");
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    std::vector<std::string> cells;
    std::stringstream cs(line);
    for (std::string c; std::getline(cs, c, ',');) cells.push_back(c);
    ASSERT_GE(cells.size(), 9u) << line;
    EXPECT_GT(std::stod(cells[3]), 0.0) << line;  // step_ms
    if (cells[0] == "dummy") {
      EXPECT_EQ(cells[6], "1.000") << line;
    }
    if (cells[0] == "exact") {
      EXPECT_EQ(cells[7], "1.000") << line;
    }
  }
  EXPECT_EQ(lines.size(), 1u + 3 * 2 * 2);  // header, kinds x objectives x lengths
  EXPECT_EQ(run("bench model --preset huge --csv ''").code, 2);
  EXPECT_EQ(run("bench model --features -1 --csv ''").code, 2);
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


TEST(CliData, StatsCountsRecordsLengthsAndHeaderKinds) {
  Result r = run("data stats " + write("stats.fasta", kFasta));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("records            3\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("residues           129\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("length min/mean/max 9 / 43.0 / 100"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("uniprotkb/swiss-prot"), std::string::npos);
  EXPECT_NE(r.output.find("uniref (UniRef50)"), std::string::npos);
  EXPECT_NE(r.output.find("unknown characters: none"), std::string::npos);
  // stdin as '-'
  Result piped = run("data stats - < " + write("stdin.fasta", kFasta));
  EXPECT_EQ(piped.code, 0);
  EXPECT_NE(piped.output.find("records            3\n"), std::string::npos);
}

TEST(CliData, CheckReportsTheFirstProblemAndTheCount) {
  Result ok = run("data check " + write("ok.fasta", kFasta));
  EXPECT_EQ(ok.code, 0) << ok.output;
  const std::string bad = kFasta + ">tr|Q00001|DUP dup\nMK-V\n>x\nAC*GT\n>y\n\n";
  Result r = run("data check " + write("bad.fasta", bad));
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.output.rfind("error: ", 0), 0u) << r.output;
  EXPECT_NE(r.output.find("record 4 (tr|Q00001|DUP): unexpected character '-' at position 3"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("(4 problems in 6 records)"), std::string::npos) << r.output;  // '-', duplicate, '*', empty
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  Result longer = run("data check --max-length 50 " + write("long.fasta", kFasta));
  EXPECT_EQ(longer.code, 1);
  EXPECT_NE(longer.output.find("100 residues, longer than --max-length 50"), std::string::npos) << longer.output;
}

TEST(CliData, SplitWritesThreeFilesThatPartitionTheInput) {
  std::string many;
  for (int i = 0; i < 400; ++i) many += ">sp|X" + std::to_string(i) + "|E_HUMAN x\nMKVLA\n";
  auto dir = test_dir() / "split";
  Result r = run("data split " + write("many.fasta", many) + " --out " + dir.string() + " --valid 0.1 --test 0.1");
  ASSERT_EQ(r.code, 0) << r.output;
  int total = 0;
  for (const char* name : {"train.fasta", "valid.fasta", "test.fasta"}) {
    const std::string text = read_file(dir / name);
    const int n = static_cast<int>(std::count(text.begin(), text.end(), '>'));
    EXPECT_GT(n, 10) << name;
    total += n;
  }
  EXPECT_EQ(total, 400);
  // Splitting again after adding records moves none of the old ones.
  Result again = run("data split " + write("more.fasta", many + ">sp|NEW|E_HUMAN x\nMK\n") + " --out " +
                     (dir / "again").string() + " --valid 0.1 --test 0.1");
  ASSERT_EQ(again.code, 0);
  for (const char* name : {"valid.fasta", "test.fasta"}) {
    const std::string before = read_file(dir / name), after = read_file(dir / "again" / name);
    EXPECT_EQ(after.substr(0, before.size()), before) << name;
  }
}

TEST(CliData, MissingFilesAndDirectoriesAreOneLineErrors) {
  Result missing = run("data stats /no/such/file.fasta");
  EXPECT_EQ(missing.code, 1);
  EXPECT_EQ(missing.output, "error: cannot open '/no/such/file.fasta': No such file or directory\n");
  Result dir = run("data stats /tmp");
  EXPECT_EQ(dir.code, 1);
  EXPECT_EQ(dir.output, "error: '/tmp' is a directory, not a sequence file\n");
  Result empty = run("data stats " + write("empty.fasta", ""));
  EXPECT_EQ(empty.code, 1);
  EXPECT_NE(empty.output.find("holds no FASTA records"), std::string::npos);
}

TEST(CliBench, DataReportsReadAndParseSpeed) {
  Result r = run("bench data --csv '' " + write("speed.fasta", kFasta));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("parse+tokenize  plain              3       129"), std::string::npos) << r.output;
}


// --schedule time: the run ends by the clock, so the progress shows the time budget, not the step cap.
TEST(CliTrain, ScheduleByTimeShowsTheTimeBudget) {
  const std::string data = write("train-time.fasta", protein_fasta(300));
  Result r = run("--threads 1 train --data " + data + " --preset tiny --tokens-per-batch 2048 --warmup 2 "
                 "--eval-every 0 --eval-batches 2 --log-every 1 --schedule time --max-time 2s --max-steps 100000 "
                 "--out " + (test_dir() / "time.pt").string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("/0:00:02 elapsed"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("/100000"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("step 1  loss "), std::string::npos) << r.output;
}

TEST(CliTrain, TrainsLogsCheckpointsAndResumes) {
  const std::string data = write("train.fasta", protein_fasta(300));
  const std::string ckpt = (test_dir() / "model.pt").string(), log = (test_dir() / "log.jsonl").string();
  const std::string common = "--threads 1 train --data " + data + " --preset tiny --attention favor_relu "
                             "--tokens-per-batch 2048 --warmup 2 --eval-every 3 --eval-batches 2 --log-every 1 "
                             "--out " + ckpt + " --log " + log;
  Result r = run(common + " --max-steps 8 --max-time 1h");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("step 8/8"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("eval step 6: valid loss"), std::string::npos) << r.output;
  EXPECT_TRUE(std::filesystem::exists(ckpt));
  const std::string lines = read_file(log);
  EXPECT_EQ(std::count(lines.begin(), lines.end(), '\n'), 8 + 3 + 1 + 1) << lines;  // steps, evals, checkpoint, done
  const auto first = nlohmann::json::parse(lines.substr(0, lines.find('\n')));
  EXPECT_EQ(first["event"], "step");
  EXPECT_EQ(first["step"], 1);
  EXPECT_TRUE(first["loss"].is_number()) << first;
  std::istringstream in(lines);
  for (std::string line; std::getline(in, line);) EXPECT_TRUE(nlohmann::json::accept(line)) << line;
  Result more = run(common + " --max-steps 10 --resume " + ckpt);
  ASSERT_EQ(more.code, 0) << more.output;
  EXPECT_NE(more.output.find("resumed at step 8"), std::string::npos) << more.output;
  EXPECT_NE(more.output.find("step 10/10"), std::string::npos) << more.output;
  EXPECT_EQ(more.output.find("step 8/10"), std::string::npos) << more.output;
  // Transfer: the same weights with another attention kind.
  Result transfer = run("--threads 1 train --data " + data + " --init-from " + ckpt + " --attention favor_softmax "
                        "--tokens-per-batch 2048 --max-steps 2 --eval-every 0 --eval-batches 2 --out " +
                        (test_dir() / "transfer.pt").string());
  ASSERT_EQ(transfer.code, 0) << transfer.output;
  EXPECT_NE(transfer.output.find("favor_softmax"), std::string::npos);
  // The recovery curve starts with the transferred weights as they are, before any step.
  EXPECT_NE(transfer.output.find("eval step 0: valid loss"), std::string::npos) << transfer.output;
  EXPECT_NE(transfer.output.find("eval step 2: valid loss"), std::string::npos) << transfer.output;
}

TEST(CliTrain, MuonAndSquaredReluTrainResumeAndRefuseTheOtherOptimisersCheckpoint) {
  const std::string data = write("train-muon.fasta", protein_fasta(300));
  const std::string ckpt = (test_dir() / "muon.pt").string();
  const std::string common = "--threads 1 train --data " + data + " --preset tiny --tokens-per-batch 2048 "
                             "--warmup 2 --eval-every 0 --eval-batches 2 --log-every 1 --lr 3e-3 --out " + ckpt;
  Result r = run(common + " --optimizer muon --activation relu2 --max-steps 4");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find(", Muon + AdamW"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(" heads, relu2, "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("step 4/4"), std::string::npos) << r.output;
  Result more = run(common + " --optimizer muon --max-steps 6 --resume " + ckpt);
  ASSERT_EQ(more.code, 0) << more.output;
  EXPECT_NE(more.output.find("resumed at step 4"), std::string::npos) << more.output;
  EXPECT_NE(more.output.find(" heads, relu2, "), std::string::npos) << more.output;  // from the checkpoint
  EXPECT_NE(more.output.find("step 6/6"), std::string::npos) << more.output;
  const auto before = std::filesystem::file_size(ckpt);
  Result wrong = run(common + " --optimizer adamw --max-steps 8 --resume " + ckpt);
  EXPECT_EQ(wrong.code, 1);
  EXPECT_EQ(wrong.output.rfind("model: ", 0), 0u) << wrong.output;
  EXPECT_NE(wrong.output.find("\nerror: checkpoint '" + ckpt + "' holds the state of another optimiser (--optimizer)\n"),
            std::string::npos) << wrong.output;
  EXPECT_EQ(std::count(wrong.output.begin(), wrong.output.end(), '\n'), 2) << wrong.output;  // model line, error
  EXPECT_EQ(std::filesystem::file_size(ckpt), before);
  Result usage = run(common + " --optimizer sgd --max-steps 1");
  EXPECT_EQ(usage.code, 2) << usage.output;
  Result activation = run(common + " --activation swish --max-steps 1");
  EXPECT_EQ(activation.code, 2) << activation.output;
}

TEST(CliTrain, BadSettingsAreOneLineErrors) {
  const std::string data = write("train.fasta", protein_fasta(20));
  Result kind = run("train --data " + data + " --attention magic --max-steps 1");
  EXPECT_EQ(kind.code, 2);  // a value outside the fixed set is a usage error, like any other
  EXPECT_NE(kind.output.find("--attention"), std::string::npos) << kind.output;
  EXPECT_NE(kind.output.find("magic"), std::string::npos) << kind.output;
  for (const char* option : {"--layers 0", "--tokens-per-batch -1", "--warmup -5", "--clip -1", "--log-every 0",
                             "--eval-every -1", "--valid-fraction -0.5", "--projection random", "--objective mask"}) {
    EXPECT_EQ(run("train --data " + data + " --preset tiny --max-steps 1 " + option).code, 2) << option;
  }
  Result heads = run("train --data " + data + " --preset tiny --heads 3 --max-steps 1");
  EXPECT_EQ(heads.code, 1);
  EXPECT_NE(heads.output.find("error: d_model 64 is not divisible by heads 3"), std::string::npos) << heads.output;
  Result missing = run("train --data /no/such.fasta --preset tiny --max-steps 1 --out " +
                       (test_dir() / "x.pt").string());
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.output.find("error: cannot open '/no/such.fasta'"), std::string::npos) << missing.output;
  Result resume = run("train --data " + data + " --resume " + data);
  EXPECT_EQ(resume.code, 1);
  EXPECT_NE(resume.output.find("is not a performer checkpoint"), std::string::npos) << resume.output;
  Result time = run("train --data " + data + " --max-time soon");
  EXPECT_EQ(time.code, 2);  // checked by CLI11, a usage error
  EXPECT_NE(time.output.find("--max-time"), std::string::npos);
  Result by_time = run("train --data " + data + " --preset tiny --max-steps 1 --schedule time --out " +
                       (test_dir() / "by-time.pt").string());
  EXPECT_EQ(by_time.code, 1);
  EXPECT_NE(by_time.output.find("error: --schedule time: needs --max-time"), std::string::npos) << by_time.output;
  EXPECT_FALSE(std::filesystem::exists(test_dir() / "by-time.pt"));
  for (const char* fraction : {"0", "1", "-0.2", "lots"}) {
    Result mask = run("train --data " + data + " --preset tiny --max-steps 1 --mask-fraction " + fraction +
                      " --out " + (test_dir() / "mask.pt").string());
    EXPECT_EQ(mask.code, 2) << fraction;
    EXPECT_NE(mask.output.find("--mask-fraction: must be in (0, 1)"), std::string::npos) << mask.output;
  }
}


TEST(CliTrain, Bf16PrecisionTrainsResumesAndEvaluatesInEitherPrecision) {
  const std::string data = write("train-bf16.fasta", protein_fasta(300));
  const std::string ckpt = (test_dir() / "bf16.pt").string();
  const std::string common = "--threads 1 train --data " + data + " --preset tiny --objective ar --tokens-per-batch 2048 "
                             "--warmup 2 --eval-every 0 --eval-batches 2 --log-every 1 --optimizer muon --out " + ckpt;
  Result r = run(common + " --precision bf16 --max-steps 3");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find(" heads, bf16 products, "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("step 3/3"), std::string::npos) << r.output;
  Result more = run(common + " --max-steps 5 --resume " + ckpt);  // the checkpoint's precision
  ASSERT_EQ(more.code, 0) << more.output;
  EXPECT_NE(more.output.find(" heads, bf16 products, "), std::string::npos) << more.output;
  EXPECT_NE(more.output.find("step 5/5"), std::string::npos) << more.output;
  const std::string fasta = write("eval-bf16.fasta", protein_fasta(20));
  Result stored = run("--threads 1 evaluate " + ckpt + " " + fasta);
  ASSERT_EQ(stored.code, 0) << stored.output;
  EXPECT_EQ(json_of(stored.output)["precision"], "bf16") << stored.output;
  Result fp32 = run("--threads 1 evaluate " + ckpt + " " + fasta + " --precision fp32");
  ASSERT_EQ(fp32.code, 0) << fp32.output;
  EXPECT_EQ(json_of(fp32.output)["precision"], "fp32") << fp32.output;
  // The same weights either way: perplexities within bf16's rounding, not bit for bit.
  const double a = json_number(stored.output, "perplexity"), b = json_number(fp32.output, "perplexity");
  EXPECT_NEAR(a, b, 0.01 * b) << stored.output << fp32.output;
  EXPECT_NE(a, b);
  EXPECT_EQ(run(common + " --precision fp16 --max-steps 1").code, 2);
  EXPECT_EQ(run("evaluate " + ckpt + " " + fasta + " --precision half").code, 2);
}

TEST(CliTrain, MaskFractionChangesTrainingTargetsButNotTheEvaluation) {
  const std::string data = write("train.fasta", protein_fasta(300));
  std::map<std::string, std::pair<double, double>> seen;  // fraction -> (targets per input token, eval targets)
  for (const std::string fraction : {"0.15", "0.4"}) {
    const std::string log = (test_dir() / ("mask-" + fraction + ".jsonl")).string();
    // One step line for all four steps: its targets and the cumulative tokens cover the same batches.
    Result r = run("--threads 1 train --data " + data + " --preset tiny --tokens-per-batch 4096 --max-steps 4 "
                   "--log-every 4 --eval-every 0 --eval-batches 2 --mask-fraction " + fraction + " --out " +
                   (test_dir() / "mask.pt").string() + " --log " + log);
    ASSERT_EQ(r.code, 0) << r.output;
    std::istringstream lines(read_file(log));
    std::string step, eval, line;
    while (std::getline(lines, line)) {
      if (json_event(line) == "step") step = line;
      if (json_event(line) == "eval") eval = line;
    }
    seen[fraction] = {json_number(step, "targets") / json_number(step, "tokens"), json_number(eval, "valid_tokens")};
  }
  // Training batches label the chosen share of residues; tokens also count <cls> and <eos>, 3% of
  // these 30-99-residue records, so both shares sit a little below the fraction, in proportion ...
  EXPECT_NEAR(seen["0.15"].first, 0.15 * 0.97, 0.01);
  EXPECT_NEAR(seen["0.4"].first, 0.4 * 0.97, 0.015);
  EXPECT_NEAR(seen["0.4"].first / seen["0.15"].first, 0.4 / 0.15, 0.2);
  // ... while the evaluation masks 15% either way, the same positions (same seed).
  EXPECT_GT(seen["0.15"].second, 0);
  EXPECT_EQ(seen["0.15"].second, seen["0.4"].second);
}

TEST(CliTrain, RecomputedFeaturesTrainTheSameRun) {
  // --recompute-features only trades memory for time: the same seed gives the same losses.
  const std::string data = write("train.fasta", protein_fasta(200));
  std::map<std::string, std::vector<double>> losses;
  for (const std::string flag : {"", " --recompute-features"}) {
    for (const std::string objective : {"mlm", "ar"}) {
      const std::string log = (test_dir() / ("recompute.jsonl")).string();
      Result r = run("--threads 1 train --data " + data + " --preset tiny --attention favor_softmax --objective " +
                     objective + " --tokens-per-batch 2048 --max-steps 4 --warmup 1 --lr 3e-3 --log-every 1 --eval-every 0 "
                     "--eval-batches 1 --out " + (test_dir() / "recompute.pt").string() + " --log " + log + flag);
      ASSERT_EQ(r.code, 0) << r.output;
      EXPECT_EQ(r.output.find("features recomputed in the backward") != std::string::npos, !flag.empty()) << r.output;
      std::istringstream lines(read_file(log));
      std::string line;
      while (std::getline(lines, line)) {
        if (json_event(line) == "step") losses[flag].push_back(json_number(line, "loss"));
      }
    }
  }
  ASSERT_EQ(losses[""].size(), 8u);
  ASSERT_EQ(losses[" --recompute-features"].size(), 8u);
  for (size_t i = 0; i < 8; ++i) EXPECT_NEAR(losses[""][i], losses[" --recompute-features"][i], 2e-5) << i;
  EXPECT_GT(std::abs(losses[""][3] - losses[""][0]), 1e-3);  // the steps do move the loss
}


TEST(CliModel, ScoreWritesOneRowPerSequence) {
  for (const char* objective : {"ar", "mlm"}) {
    const std::string model = tiny_checkpoint(objective);
    const std::string out = (test_dir() / "scores.tsv").string();
    Result r = run("--threads 1 score " + model + " " + write("three.fasta", kFasta) + " --out " + out);
    ASSERT_EQ(r.code, 0) << r.output;
    const std::string tsv = read_file(out);
    EXPECT_EQ(tsv.rfind("id\tlength\tlog_likelihood\tmean_log_likelihood\tperplexity\tmethod\n", 0), 0u) << tsv;
    EXPECT_EQ(std::count(tsv.begin(), tsv.end(), '\n'), 4);
    EXPECT_NE(tsv.find("sp|P00974|BPT1_BOVIN\t100\t-"), std::string::npos) << tsv;
    EXPECT_NE(tsv.find(std::string(objective) == "ar" ? "\tautoregressive\n" : "\tpseudo\n"), std::string::npos);
    EXPECT_NE(r.output.find("scored 3 sequences (129 residues, "), std::string::npos) << r.output;
    // A record scores the same alone as among others.
    Result alone = run("--threads 1 score " + model + " - < " + write("one.fasta", kBpt1));
    ASSERT_EQ(alone.code, 0);
    const std::string line = alone.output.substr(alone.output.find("sp|P00974"));
    EXPECT_NE(tsv.find(line.substr(0, line.find('\n'))), std::string::npos) << line;
  }
}

TEST(CliModel, VariantsScoreMutationsAndNameTheBadRow) {
  const std::string model = tiny_checkpoint("mlm");
  const std::string wt = write("bpt1.fasta", kBpt1);
  Result r = run("--threads 1 variants " + model + " --sequence " + wt + " --mutations " +
                 write("ok.csv", "id,mutant\na,K2R\nb,\"K2R:R36W\"\n"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("row\tmutant\tmasked_marginal\twt_marginal\n2\tK2R\t"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("\n3\tK2R:R36W\t"), std::string::npos) << r.output;
  Result offset = run("--threads 1 variants " + model + " --sequence " + wt + " --offset 0 --mutation-col m "
                      "--mutations " + write("off.csv", "m\nM0A\n"));
  EXPECT_EQ(offset.code, 0) << offset.output;
  Result bad = run("--threads 1 variants " + model + " --sequence " + wt + " --mutations " +
                   write("bad.csv", "mutant\nK2R\nA3C\n"));
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.output.find("row 3: mutation A3C: the sequence has M at position 3, not A"), std::string::npos)
      << bad.output;
  Result col = run("--threads 1 variants " + model + " --sequence " + wt + " --mutations " + write("c.csv", "x\nK2R\n"));
  EXPECT_EQ(col.code, 1);
  EXPECT_NE(col.output.find("has no column 'mutant'"), std::string::npos);
}

TEST(CliModel, VariantsScanScoresEverySingleMutant) {
  const std::string wt = write("bpt1.fasta", kBpt1);
  for (const char* objective : {"mlm", "ar"}) {
    const std::string model = tiny_checkpoint(objective);
    const std::string out = (test_dir() / (std::string("scan-") + objective + ".tsv")).string();
    Result r = run("--threads 1 variants " + model + " --sequence " + wt + " --scan --out " + out);
    ASSERT_EQ(r.code, 0) << r.output;
    const std::string table = read_file(out);
    EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), 1 + 19 * 100);  // header + 19 x L
    EXPECT_NE(table.find("\n1\tM1A\t"), std::string::npos) << table.substr(0, 200);
    EXPECT_NE(table.find("\n1900\tL100Y\t"), std::string::npos);  // BPT1's residue 100 is L
    EXPECT_EQ(table.find("\tM1M\t"), std::string::npos);  // no wild-type rows
    // The same mutants scored one by one from a mutations file.
    Result one = run("--threads 1 variants " + model + " --sequence " + wt + " --mutations " +
                     write("single.csv", "mutant\nK2R\nP48G\n"));
    ASSERT_EQ(one.code, 0) << one.output;
    for (const char* mutant : {"K2R", "P48G"}) {
      auto cells_of = [&](const std::string& text) {
        const size_t at = text.find(std::string("\t") + mutant + "\t");
        return text.substr(at + std::strlen(mutant) + 2, text.find('\n', at) - at - std::strlen(mutant) - 2);
      };
      const std::string a = cells_of(table), b = cells_of(one.output);
      std::istringstream sa(a), sb(b);
      double x = 0, y = 0;
      while (sa >> x && sb >> y) EXPECT_NEAR(x, y, 1e-4) << objective << " " << mutant << ": " << a << " | " << b;
    }
  }
  const std::string model = tiny_checkpoint("mlm");
  Result both = run("--threads 1 variants " + model + " --sequence " + wt + " --scan --mutations x.csv");
  EXPECT_EQ(both.code, 2) << both.output;
  Result neither = run("--threads 1 variants " + model + " --sequence " + wt);
  EXPECT_EQ(neither.code, 1) << neither.output;
  EXPECT_NE(neither.output.find("error: give --mutations FILE, or --scan"), std::string::npos) << neither.output;
  Result x = run("--threads 1 variants " + model + " --sequence " + write("x.fasta", ">x\nMKXA\n") + " --scan");
  EXPECT_EQ(x.code, 1) << x.output;
  EXPECT_NE(x.output.find("residue 3 is X, not one of the 20 standard amino acids"), std::string::npos) << x.output;
}

TEST(CliModel, EmbedAndAttentionWriteNpyArraysWithTheRightShapes) {
  const std::string model = tiny_checkpoint("mlm");
  const auto out = test_dir() / "emb";
  Result r = run("--threads 1 embed " + model + " " + write("three.fasta", kFasta) + " --out " + out.string() +
                 " --layers 0,2,-1 --include per-token,mean,bos");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(npy_shape(out / "mean.npy"), "(3, 3, 64)");
  EXPECT_EQ(npy_shape(out / "bos.npy"), "(3, 3, 64)");
  EXPECT_EQ(npy_shape(out / "per_token" / "0.npy"), "(3, 100, 64)");
  EXPECT_EQ(npy_shape(out / "per_token" / "1.npy"), "(3, 9, 64)");
  EXPECT_NE(read_file(out / "index.tsv").find("1\ttr|Q00001|Q00001_HUMAN\t9\tper_token/1.npy"), std::string::npos);
  Result layer = run("--threads 1 embed " + model + " " + write("t.fasta", kFasta) + " --out " + out.string() +
                     " --layers 7");
  EXPECT_EQ(layer.code, 1);
  EXPECT_NE(layer.output.find("layer 7 does not exist"), std::string::npos) << layer.output;

  const auto att = test_dir() / "att";
  Result a = run("--threads 1 attention " + model + " --sequence " + write("bpt1.fasta", kBpt1) + " --out " +
                 att.string());
  ASSERT_EQ(a.code, 0) << a.output;
  EXPECT_EQ(npy_shape(att / "attention.npy"), "(2, 4, 100, 100)");
  EXPECT_EQ(npy_shape(att / "contacts.npy"), "(100, 100)");
  const auto json = nlohmann::json::parse(read_file(att / "attention.json"));
  EXPECT_EQ(json["residues"].get<std::string>().rfind("MKMSRLCLSV", 0), 0u) << json;
  EXPECT_EQ(json["layers"], 2);
  EXPECT_EQ(json["length"], 100);
  EXPECT_EQ(json["model"], model);
}

TEST(CliModel, SimilarityWritesA20x20MatrixAndComparesWithBlosum) {
  const std::string model = tiny_checkpoint("mlm");
  const std::string out = (test_dir() / "sim.csv").string();
  Result r = run("--threads 1 similarity " + model + " " + write("many.fasta", protein_fasta(30)) +
                 " --n 20 --top 5 --out " + out);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("over 20 sequences"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("against blosum62, off-diagonal pairs: Pearson "), std::string::npos);
  const std::string csv = read_file(out);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 21);
  EXPECT_EQ(csv.rfind("residue,A,C,D,E,F,G,H,I,K,L,M,N,P,Q,R,S,T,V,W,Y\n", 0), 0u) << csv.substr(0, 80);
}

TEST(CliModel, SimilarityMethodsControlsAndPerHeadTables) {
  const std::string model = tiny_checkpoint("mlm");  // 2 layers x 4 heads
  const std::string fasta = write("methods.fasta", protein_fasta(12));
  const std::string out = (test_dir() / "m.csv").string();
  for (const char* method : {"attention", "attention-profile", "substitution"}) {
    Result r = run(std::string("--threads 1 similarity ") + model + " " + fasta + " --method " + method + " --out " + out);
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_NE(r.output.find(std::string("similarity by ") + method + " over 12 sequences"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("control, the untrained model: Pearson "), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("control, shuffled residues: Pearson "), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("pair  rank  untrained  shuffled  blosum62"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("D-E "), std::string::npos);
    EXPECT_NE(r.output.find(std::string(method) + "_similarity"), std::string::npos);
    const std::string csv = read_file(out);
    EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 21);
  }
  Result heads = run("--threads 1 similarity " + model + " " + fasta + " --per-head --no-controls --out " + out);
  ASSERT_EQ(heads.code, 0) << heads.output;
  EXPECT_EQ(heads.output.find("control,"), std::string::npos) << heads.output;
  EXPECT_NE(heads.output.find("layer  head  pearson  spearman"), std::string::npos) << heads.output;
  EXPECT_NE(heads.output.find("    1  all  "), std::string::npos) << heads.output;
  EXPECT_NE(heads.output.find("    1     3  "), std::string::npos) << heads.output;
  Result embedding = run("--threads 1 similarity " + model + " --method embedding --out " + out);
  ASSERT_EQ(embedding.code, 0) << embedding.output;
  EXPECT_NE(embedding.output.find("control, the untrained model"), std::string::npos) << embedding.output;
  EXPECT_EQ(embedding.output.find("shuffled"), std::string::npos) << embedding.output;
  Result near = run("--threads 1 similarity " + model + " " + fasta + " --exclude-near 2 --min-attention 0.05 --layers 1 "
                    "--heads 0,2 --no-controls --out " + out);
  EXPECT_EQ(near.code, 0) << near.output;
}

TEST(CliModel, SimilarityOptionsThatDoNotFitTheMethodAreOneLineErrors) {
  const std::string model = tiny_checkpoint("mlm");
  const std::string fasta = write("bad-sim.fasta", protein_fasta(3));
  const std::string out = (test_dir() / "never.csv").string();
  std::filesystem::remove(out);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {" " + fasta + " --method embedding", "error: the embedding method reads no sequences"},
      {" --method substitution", "error: the substitution method needs a FASTA file"},
      {" " + fasta + " --method substitution --per-head", "error: --per-head applies to the attention methods"},
      {" " + fasta + " --method substitution --exclude-near 2", "apply to the attention methods only"},
      {" " + fasta + " --layers 5", "error: layer 5 does not exist (the model has 2: 0..1)"},
      {" " + fasta + " --heads 4", "error: head 4 does not exist"},
      {" " + fasta + " --method attention-profile --layers 0 --heads 1,2", "needs 3 or more (2 chosen)"},
  };
  for (const auto& [args, message] : cases) {
    Result r = run("--threads 1 similarity " + model + args + " --out " + out);
    EXPECT_EQ(r.code, 1) << args << "\n" << r.output;
    EXPECT_NE(r.output.find(message), std::string::npos) << args << "\n" << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    EXPECT_FALSE(std::filesystem::exists(out)) << args;
  }
  Result usage = run("--threads 1 similarity " + model + " " + fasta + " --method telepathy --out " + out);
  EXPECT_EQ(usage.code, 2) << usage.output;
}

TEST(CliModel, EvaluatePrintsLossPerplexityAndAccuracy) {
  const std::string model = tiny_checkpoint("ar");
  Result r = run("--threads 1 evaluate " + model + " " + write("eval.fasta", protein_fasta(20)));
  ASSERT_EQ(r.code, 0) << r.output;
  const auto json = json_of(r.output);
  EXPECT_EQ(json["objective"], "ar") << json;
  EXPECT_EQ(json["sequences"], 20);
  EXPECT_GT(json["tokens"].get<int64_t>(), 0);
  EXPECT_NEAR(json["perplexity"].get<double>(), std::exp(json["loss"].get<double>()), 1e-3) << json;
}

// --draws K pools the targets of K mask draws: draw 0 is the single pass, and the pooled loss is the
// target-weighted mean of the draws' losses.
TEST(CliModel, EvaluateDrawsPoolTheTargetsOfSeveralMasks) {
  const std::string model = tiny_checkpoint("mlm");
  const std::string fasta = write("pool.fasta", protein_fasta(40));
  Result one = run("--threads 1 evaluate " + model + " " + fasta + " --seed 3");
  Result two = run("--threads 1 evaluate " + model + " " + fasta + " --seed 3 --draws 2");
  ASSERT_EQ(one.code, 0) << one.output;
  ASSERT_EQ(two.code, 0) << two.output;
  EXPECT_FALSE(json_of(one.output).contains("draws")) << one.output;
  const auto draws = json_of(two.output)["draw_perplexities"];
  ASSERT_EQ(draws.size(), 2u) << two.output;
  const double p0 = draws[0].get<double>(), p1 = draws[1].get<double>();
  EXPECT_NEAR(p0, json_number(one.output, "perplexity"), 1e-4) << one.output << two.output;
  EXPECT_NE(p0, p1) << "the second draw masks other positions: " << two.output;
  const double t0 = json_number(one.output, "tokens"), t = json_number(two.output, "tokens");
  EXPECT_GT(t, t0);
  EXPECT_NEAR(json_number(two.output, "loss"), (t0 * std::log(p0) + (t - t0) * std::log(p1)) / t, 2e-5) << two.output;
  EXPECT_EQ(json_number(two.output, "draws"), 2);
  EXPECT_EQ(run("evaluate " + model + " " + fasta + " --draws 0").code, 2);  // a usage error, as CLI11's checks give
}

TEST(CliModel, MissingOrForeignModelsAreOneLineErrors) {
  const std::string fasta = write("x.fasta", kFasta);
  Result missing = run("score /no/model.pt " + fasta);
  EXPECT_EQ(missing.code, 1);
  EXPECT_EQ(missing.output, "error: checkpoint '/no/model.pt' does not exist or is not a file\n");
  Result junk = run("score " + fasta + " " + fasta);
  EXPECT_EQ(junk.code, 1);
  EXPECT_NE(junk.output.find("is not a performer checkpoint"), std::string::npos) << junk.output;
  const std::string model = tiny_checkpoint("mlm");
  Result unknown = run("score " + model + " " + write("u.fasta", ">u\nMK-V\n"));
  EXPECT_EQ(unknown.code, 1);
  EXPECT_NE(unknown.output.find("unexpected character '-' at position 3"), std::string::npos) << unknown.output;
}

namespace {

// Golden outputs: every command that reads a model, run on two small checkpoints committed in
// tests/cli/golden (made by make.sh there), compared number by number with the outputs recorded when
// they were made. A change to tokens, framing, the forward pass or the file formats shows up here;
// PERFORMER_UPDATE_GOLDEN=1 rewrites the records after a deliberate change (make.sh does that).
const std::filesystem::path kGolden = std::filesystem::path(PERFORMER_SOURCE_DIR) / "tests" / "cli" / "golden";

std::vector<std::string> fields(const std::string& text) {
  std::vector<std::string> out(1);
  for (char c : text) {
    if (c == '\t' || c == ',' || c == '\n' || c == ' ') {
      if (!out.back().empty()) out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  if (out.back().empty()) out.pop_back();
  return out;
}

// Numbers agree to 1e-4 relative (float32 sums in another BLAS), everything else exactly.
void expect_golden(const std::string& actual, const std::string& name) {
  const auto path = kGolden / name;
  if (std::getenv("PERFORMER_UPDATE_GOLDEN")) {
    std::ofstream(path, std::ios::binary) << actual;
    return;
  }
  const std::vector<std::string> got = fields(actual), want = fields(read_file(path));
  ASSERT_FALSE(want.empty()) << path << " is missing";
  ASSERT_EQ(got.size(), want.size()) << name << ":\n" << actual;
  for (size_t i = 0; i < want.size(); ++i) {
    char* end = nullptr;
    const double expected = std::strtod(want[i].c_str(), &end);
    if (*end == '\0') {
      EXPECT_NEAR(std::strtod(got[i].c_str(), nullptr), expected, 1e-4 * (1 + std::abs(expected)))
          << name << ", field " << i;
    } else {
      EXPECT_EQ(got[i], want[i]) << name << ", field " << i;
    }
  }
}

// A float32 .npy file as text: its shape, then one value a line.
std::string npy_text(const std::filesystem::path& path) {
  const std::string bytes = read_file(path);
  if (bytes.size() < 10) return "unreadable " + path.string();
  const size_t header = 10 + (static_cast<unsigned char>(bytes[8]) | static_cast<unsigned char>(bytes[9]) << 8);
  std::string text = "shape " + npy_shape(path) + "\n";
  char line[32];
  for (size_t at = header; at + 4 <= bytes.size(); at += 4) {
    float v;
    std::memcpy(&v, bytes.data() + at, 4);
    std::snprintf(line, sizeof line, "%.7g\n", v);
    text += line;
  }
  return text;
}

const std::string kShort = ">short a 20-residue peptide\nMKTAYIAKQRQISFVKSHFS\n";

}  // namespace

TEST(CliGolden, EveryModelCommandReproducesItsRecordedOutput) {
  for (const std::string objective : {"mlm", "ar"}) {
    SCOPED_TRACE(objective);
    const std::string model = (kGolden / ("tiny-" + objective + ".pt")).string();
    const std::string fasta = write("three.fasta", kFasta);
    Result score = run("--threads 1 score " + model + " " + fasta + " --out " + (test_dir() / "s.tsv").string());
    ASSERT_EQ(score.code, 0) << score.output;
    expect_golden(read_file(test_dir() / "s.tsv"), "score-" + objective + ".tsv");

    Result variants = run("--threads 1 variants " + model + " --sequence " + write("bpt1.fasta", kBpt1) +
                          " --mutations " + write("m.csv", "mutant\nK2R\nK2R:R36W\nP48G\n"));
    ASSERT_EQ(variants.code, 0) << variants.output;
    expect_golden(variants.output, "variants-" + objective + ".tsv");

    const auto emb = test_dir() / "emb";
    Result embed = run("--threads 1 embed " + model + " " + fasta + " --layers 0,-1 --include mean,bos --out " +
                       emb.string());
    ASSERT_EQ(embed.code, 0) << embed.output;
    expect_golden(read_file(emb / "index.tsv") + npy_text(emb / "mean.npy") + npy_text(emb / "bos.npy"),
                  "embed-" + objective + ".txt");

    const auto att = test_dir() / "att";
    Result attention = run("--threads 1 attention " + model + " --sequence " + write("short.fasta", kShort) +
                           " --out " + att.string());
    ASSERT_EQ(attention.code, 0) << attention.output;
    expect_golden(npy_text(att / "attention.npy") + npy_text(att / "contacts.npy"), "attention-" + objective + ".txt");

    const std::string sim = (test_dir() / "sim.csv").string();
    Result similarity = run("--threads 1 similarity " + model + " " + fasta + " --out " + sim);
    ASSERT_EQ(similarity.code, 0) << similarity.output;
    const std::string report = similarity.output.substr(similarity.output.find('\n') + 1);  // after "... written to PATH"
    expect_golden(read_file(sim) + report, "similarity-" + objective + ".txt");
  }
}

TEST(CliGolden, ACheckpointOfAnotherVocabularyIsAOneLineError) {
  // tiny-mlm.pt with its vocabulary renamed (make.sh): same weights, another token table.
  Result r = run("score " + (kGolden / "foreign-vocabulary.pt").string() + " " + write("x.fasta", kFasta));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("uses vocabulary 'performer-protein-v9', this build reads 'performer-protein-v1'"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
}

TEST(CliData, PrepareCheckStatsAndTrainResumingExactlyOnPreparedData) {
  const std::string fasta = write("prep.fasta", protein_fasta(400));
  const std::string dir = (test_dir() / "prepared").string();
  Result r = run("data prepare " + fasta + " --out " + dir + " --shard-size 8k");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("400 kept"), std::string::npos) << r.output;
  EXPECT_TRUE(std::filesystem::exists(dir + "/manifest.json"));
  Result check = run("data check " + dir);
  ASSERT_EQ(check.code, 0) << check.output;
  EXPECT_NE(check.output.find(": ok, 400 sequences"), std::string::npos) << check.output;
  Result stats = run("data stats " + dir);
  ASSERT_EQ(stats.code, 0) << stats.output;
  EXPECT_NE(stats.output.find("mean length"), std::string::npos) << stats.output;
  // Prepared again: refused without --force, the folder untouched; replaced with it.
  const std::string manifest = read_file(dir + "/manifest.json");
  Result again = run("data prepare " + fasta + " --out " + dir);
  EXPECT_EQ(again.code, 1) << again.output;
  EXPECT_NE(again.output.find("--force"), std::string::npos) << again.output;
  EXPECT_EQ(read_file(dir + "/manifest.json"), manifest);
  EXPECT_EQ(run("data prepare " + fasta + " --out " + dir + " --force --shard-size 8k").code, 0);

  // Ten steps in one run, and the same ten steps as 6 + 4 with --resume: the same losses.
  const std::string common = "--threads 1 train --data " + dir + " --preset tiny --tokens-per-batch 2048 --warmup 2 "
                             "--eval-every 0 --eval-batches 2 --log-every 1 --max-steps 10 ";
  const std::string straight_log = (test_dir() / "straight.jsonl").string(), split_log = (test_dir() / "split.jsonl").string();
  const std::string ckpt = (test_dir() / "split.pt").string();
  ASSERT_EQ(run(common + "--out " + (test_dir() / "straight.pt").string() + " --log " + straight_log).code, 0);
  Result first = run(common + "--out " + ckpt + " --log " + split_log + " --stop-at 6");
  ASSERT_EQ(first.code, 0) << first.output;
  Result second = run(common + "--out " + ckpt + " --log " + split_log + " --resume " + ckpt);
  ASSERT_EQ(second.code, 0) << second.output;
  EXPECT_NE(second.output.find("resumed at step 6"), std::string::npos) << second.output;
  auto losses = [](const std::string& log) {
    std::map<int, double> out;
    std::istringstream in(read_file(log));
    for (std::string line; std::getline(in, line);) {
      const auto j = nlohmann::json::parse(line);
      if (j["event"] == "step") out[j["step"].get<int>()] = j["loss"].get<double>();
    }
    return out;
  };
  const auto a = losses(straight_log), b = losses(split_log);
  ASSERT_EQ(a.size(), 10u);
  ASSERT_EQ(b.size(), 10u);
  for (int step = 1; step <= 10; ++step) EXPECT_NEAR(a.at(step), b.at(step), 1e-5) << "step " << step;

  // evaluate on a split of the folder.
  Result eval = run("--threads 1 evaluate " + (test_dir() / "straight.pt").string() + " " + dir + " --split test");
  ASSERT_EQ(eval.code, 0) << eval.output;
  const auto j = json_of(eval.output);
  EXPECT_EQ(j["split"], "test");
  const auto m = nlohmann::json::parse(read_file(dir + "/manifest.json"));
  EXPECT_EQ(j["sequences"], m["splits"]["test"]["sequences"]);
  EXPECT_GT(j["tokens"].get<int64_t>(), 0);

  // Options that only filter FASTA input are refused for a prepared folder, not ignored.
  Result filtered = run(common + "--out " + (test_dir() / "x.pt").string() + " --min-length 50");
  EXPECT_EQ(filtered.code, 1) << filtered.output;
  EXPECT_NE(filtered.output.find("--min-length applies to FASTA --data"), std::string::npos) << filtered.output;
}

TEST(CliData, BadInputToPrepareOrAPreparedFolderIsAOneLineErrorAndLeavesNothing) {
  const std::string junk = write("junk.fasta", std::string("\x01\x02\x03 binary junk\n", 17));
  const std::string out = (test_dir() / "out").string();
  Result r = run("data prepare " + junk + " --out " + out);
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("error: "), std::string::npos) << r.output;
  Result missing = run("data prepare " + (test_dir() / "missing.fasta").string() + " --out " + out);
  EXPECT_EQ(missing.code, 1) << missing.output;
  EXPECT_NE(missing.output.find("missing.fasta"), std::string::npos) << missing.output;
  for (const auto& e : std::filesystem::directory_iterator(test_dir())) {
    EXPECT_EQ(e.path().filename().string().rfind("out", 0), std::string::npos) << e.path();  // no folder, no temporary
  }
  // A prepared folder with a shard cut short: training and checking name the file.
  const std::string dir = (test_dir() / "cut").string();
  ASSERT_EQ(run("data prepare " + write("ok.fasta", protein_fasta(50)) + " --out " + dir + " --valid 0 --test 0").code, 0);
  std::filesystem::resize_file(dir + "/train-00000.tok", 100);
  for (const std::string& command : {"data check " + dir, "--threads 1 train --preset tiny --max-steps 1 --data " + dir +
                                                              " --out " + (test_dir() / "m.pt").string()}) {
    Result bad = run(command);
    EXPECT_EQ(bad.code, 1) << bad.output;
    EXPECT_NE(bad.output.find("train-00000.tok"), std::string::npos) << bad.output;
    EXPECT_EQ(std::count(bad.output.begin(), bad.output.end(), '\n'), 1) << bad.output;
  }
  EXPECT_FALSE(std::filesystem::exists(test_dir() / "m.pt"));
}
