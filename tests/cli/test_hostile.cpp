// The performer executable against what a hostile user, a full disk or a kill does: every case exits
// with one clear line, leaves the previous outputs as they were, and leaves no temporary behind.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>

#include "tests/cli/cli_support.h"

using namespace performer::clitest;
namespace fs = std::filesystem;

namespace {

// A shell command line with the performer executable in it (for ulimit, redirections, timeouts).
Result shell(const std::string& script) {
  std::string quoted = "'";
  quoted.append(PERFORMER_EXE).append("'");
  std::string command = script;
  for (size_t at = command.find("PERFORMER"); at != std::string::npos; at = command.find("PERFORMER", at + quoted.size())) {
    command.replace(at, 9, quoted);
  }
  return run_command("bash -c \"" + command + "\"");
}

// Files in dir whose names show an unfinished write (NAME.tmp.XXXXXX).
int temporaries(const fs::path& dir) {
  int n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) n += e.path().filename().string().find(".tmp.") != std::string::npos;
  return n;
}

std::string train_args(const std::string& data, const std::string& out) {
  return "--threads 1 train --data " + data + " --preset tiny --tokens-per-batch 1024 --eval-every 0 --eval-batches 1 "
         "--warmup 1 --out " + out;
}

}  // namespace

// 1, 3: a checkpoint that cannot be written (here: past a file-size limit, as on a full disk) is one
// error line with the reason; the previous checkpoint stays whole and no temporary is left.
TEST(CliHostile, ACheckpointThatCannotBeWrittenKeepsThePreviousOne) {
  const std::string data = write("data.fasta", protein_fasta(60));
  const std::string ckpt = (test_dir() / "model.pt").string();
  ASSERT_EQ(run(train_args(data, ckpt) + " --max-steps 2").code, 0);
  const std::string before = read_file(ckpt);
  Result full = shell("ulimit -f 64; PERFORMER " + train_args(data, ckpt) + " --max-steps 3 --resume " + ckpt);
  EXPECT_EQ(full.code, 1) << full.output;
  EXPECT_NE(full.output.find("error: cannot write '" + ckpt + "': File too large"), std::string::npos) << full.output;
  EXPECT_EQ(full.output.find("terminate"), std::string::npos) << full.output;
  EXPECT_EQ(read_file(ckpt), before);
  EXPECT_EQ(temporaries(test_dir()), 0);
  // attention and embed past the limit: an error with the reason, not a silent SIGXFSZ.
  Result attention = shell("ulimit -f 1; PERFORMER --threads 1 attention " + ckpt + " --sequence " +
                           write("bpt1.fasta", kBpt1) + " --out " + (test_dir() / "att").string());
  EXPECT_EQ(attention.code, 1) << attention.output;
  EXPECT_NE(attention.output.find("File too large"), std::string::npos) << attention.output;
  EXPECT_FALSE(fs::exists(test_dir() / "att"));
  EXPECT_EQ(temporaries(test_dir()), 0);
}

// 4: a full disk or a full standard output is an error, and an existing output is not replaced.
TEST(CliHostile, FullOutputsAreErrorsAndKeepThePreviousFile) {
  const std::string model = tiny_checkpoint("mlm");
  const std::string fasta = write("x.fasta", kFasta);
  const std::string out = (test_dir() / "scores.tsv").string();
  std::ofstream(out) << "previous\n";
  Result full = shell("ulimit -f 0; PERFORMER --threads 1 score " + model + " " + fasta + " --out " + out);
  EXPECT_EQ(full.code, 1) << full.output;
  EXPECT_NE(full.output.find("File too large"), std::string::npos) << full.output;
  EXPECT_EQ(read_file(out), "previous\n");
  for (const std::string& command : {"score " + model + " " + fasta, "evaluate " + model + " " + fasta}) {
    Result r = shell("PERFORMER --threads 1 " + command + " 2>&1 >/dev/full");
    EXPECT_EQ(r.code, 1) << command << ": " << r.output;
    EXPECT_NE(r.output.find("error: cannot write to standard output: No space left on device"), std::string::npos)
        << r.output;
  }
  EXPECT_EQ(temporaries(test_dir()), 0);
}

// 5, 15: embed writes into a temporary folder: a later failure leaves the previous run's folder whole.
TEST(CliHostile, AFailedEmbedLeavesThePreviousFolderAsItWas) {
  const std::string model = tiny_checkpoint("mlm");
  const std::string out = (test_dir() / "emb").string();
  ASSERT_EQ(run("--threads 1 embed " + model + " " + write("x.fasta", kFasta) + " --out " + out).code, 0);
  const std::string index = read_file(fs::path(out) / "index.tsv");
  ASSERT_NE(index.find("P00974"), std::string::npos) << index;
  EXPECT_EQ(run("--threads 1 embed " + model + " /no/such.fasta --out " + out).code, 1);
  EXPECT_EQ(run("--threads 1 embed " + model + " " + write("y.fasta", kFasta) + " --layers 9 --out " + out).code, 1);
  EXPECT_EQ(run("--threads 1 embed " + model + " " + write("bad.fasta", ">a\nMK\n>b\nM*K\n") + " --out " + out).code, 1);
  EXPECT_EQ(read_file(fs::path(out) / "index.tsv"), index);
  EXPECT_EQ(temporaries(test_dir()), 0);
  // Nothing left behind when the first run fails either.
  EXPECT_EQ(run("--threads 1 embed " + model + " /no/such.fasta --out " + (test_dir() / "new").string()).code, 1);
  EXPECT_FALSE(fs::exists(test_dir() / "new"));
}

// 6, 7, 9: train checks its outputs before it touches them.
TEST(CliHostile, TrainNeverDestroysItsInputsOrAnOldLog) {
  const std::string data = write("data.fasta", protein_fasta(60));
  const std::string ckpt = (test_dir() / "model.pt").string(), log = (test_dir() / "log.jsonl").string();
  ASSERT_EQ(run(train_args(data, ckpt) + " --max-steps 1 --log " + log).code, 0);
  const std::string old_log = read_file(log), model = read_file(ckpt), fasta = read_file(data);
  // A run that fails before its first step leaves the log of the last run.
  EXPECT_EQ(run(train_args("/no/such.fasta", (test_dir() / "other.pt").string()) + " --max-steps 1 --log " + log).code, 1);
  EXPECT_EQ(read_file(log), old_log);
  // A --log that is not a training log (here the checkpoint) is refused; --force replaces it.
  Result wrong_log = run(train_args(data, (test_dir() / "b.pt").string()) + " --max-steps 1 --log " + ckpt);
  EXPECT_EQ(wrong_log.code, 1);
  EXPECT_NE(wrong_log.output.find("is not a training log"), std::string::npos) << wrong_log.output;
  EXPECT_EQ(read_file(ckpt), model);
  const std::string text = write("notes.txt", "my notes\n");
  EXPECT_EQ(run(train_args(data, (test_dir() / "c.pt").string()) + " --max-steps 1 --log " + text).code, 1);
  EXPECT_EQ(run(train_args(data, (test_dir() / "c.pt").string()) + " --max-steps 1 --force --log " + text).code, 0);
  // --out that is the training data is refused before anything is read or written.
  Result same = run(train_args(data, data) + " --max-steps 1");
  EXPECT_EQ(same.code, 1);
  EXPECT_NE(same.output.find("--out '" + data + "' is the input file"), std::string::npos) << same.output;
  EXPECT_EQ(read_file(data), fasta);
  // Standard input cannot be read twice: refused up front, not after the training.
  Result piped = shell("PERFORMER " + train_args("-", (test_dir() / "d.pt").string()) + " --max-steps 1 < " + data);
  EXPECT_EQ(piped.code, 1);
  EXPECT_NE(piped.output.find("--data and --valid need files"), std::string::npos) << piped.output;
  // The score of a FASTA file does not replace it.
  Result score = run("--threads 1 score " + ckpt + " " + data + " --out " + data);
  EXPECT_EQ(score.code, 1);
  EXPECT_EQ(read_file(data), fasta);
}

// 8: a damaged checkpoint is refused by every command, naming the file.
TEST(CliHostile, ADamagedCheckpointIsRefused) {
  const std::string model = tiny_checkpoint("mlm");
  std::string bytes = read_file(model);
  ASSERT_GT(bytes.size(), 4096u);
  const std::string damaged = (test_dir() / "damaged.pt").string();
  std::fill(bytes.begin() + static_cast<long>(bytes.size() / 2), bytes.begin() + static_cast<long>(bytes.size() / 2 + 1024), '\0');
  std::ofstream(damaged, std::ios::binary) << bytes;
  const std::string fasta = write("x.fasta", kFasta);
  for (const std::string& command : {"score " + damaged + " " + fasta, "evaluate " + damaged + " " + fasta,
                                    "train --data " + fasta + " --resume " + damaged + " --max-steps 5"}) {
    Result r = run("--threads 1 " + command);
    EXPECT_EQ(r.code, 1) << command;
    EXPECT_EQ(r.output, "error: checkpoint '" + damaged + "' is damaged: its checksum does not match its contents\n");
  }
  EXPECT_EQ(run("--threads 1 score " + model + " " + fasta).code, 0);
}

// 11, 12: work that cannot finish is refused or capped up front.
TEST(CliHostile, HopelessWorkIsRefusedOrCappedUpFront) {
  const std::string model = tiny_checkpoint("ar");
  Result threads = run("--threads 100000 evaluate " + model + " " + write("x.fasta", kFasta));
  EXPECT_EQ(threads.code, 0) << threads.output;
  EXPECT_NE(threads.output.find("is more than 4 per core; using"), std::string::npos) << threads.output;
  const std::string huge = write("huge.fasta", ">huge\n" + std::string(200000, 'A') + "\n");
  Result attention = run("--threads 1 attention " + model + " --sequence " + huge + " --out " + (test_dir() / "a").string());
  EXPECT_EQ(attention.code, 1);
  EXPECT_NE(attention.output.find("error: the attention of 200000 residues"), std::string::npos) << attention.output;
  EXPECT_NE(attention.output.find("GiB of memory available"), std::string::npos) << attention.output;
}

// 13, 14, 16, 17: values and inputs that were silently accepted or badly reported.
TEST(CliHostile, BadValuesAndInputsAreNamedClearly) {
  const std::string data = write("data.fasta", protein_fasta(20));
  for (const char* option : {"--d-model 0", "--max-time -5m", "--concat-length 1", "--checkpoint-every -1",
                             "--redraw-interval -1", "--eval-batches -1"}) {
    Result r = run("train --data " + data + " --preset tiny --max-steps 1 " + std::string(option));
    EXPECT_EQ(r.code, 2) << option << ": " << r.output;
    EXPECT_NE(r.output.find(std::string(option).substr(0, std::string(option).find(' '))), std::string::npos) << r.output;
  }
  const std::string model = tiny_checkpoint("mlm");
  EXPECT_EQ(run("evaluate " + model + " " + data + " --max-length -5").code, 2);
  const std::string wt = write("wt.fasta", ">wt\nMKTAYIAK\n");
  for (const std::string mutation : {"M1A:", ":M1A", "M99999999999999999999A"}) {
    const std::string csv = write("m.csv", "mutant\n" + mutation + "\n");
    Result r = run("--threads 1 variants " + model + " --sequence " + wt + " --mutations " + csv);
    EXPECT_EQ(r.code, 1) << mutation << ": " << r.output;
    EXPECT_EQ(r.output.find("stoll"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("row 2: mutation '" + mutation + "'"), std::string::npos) << r.output;
  }
  // A character that is not a residue: the hint names an option only where the command has it.
  const std::string odd = write("odd.fasta", ">odd\nMKJ*-AK\n");
  Result similarity = run("--threads 1 similarity " + model + " " + odd + " --out " + (test_dir() / "s.csv").string());
  EXPECT_EQ(similarity.code, 1);
  EXPECT_NE(similarity.output.find("(use --unknown x"), std::string::npos) << similarity.output;
  Result attention = run("--threads 1 attention " + model + " --sequence " + odd + " --out " + (test_dir() / "a").string());
  EXPECT_EQ(attention.code, 1);
  EXPECT_EQ(attention.output.find("--unknown"), std::string::npos) << attention.output;
  // A binary file given as a matrix: the error shows no raw bytes.
  std::string binary = "\x7f" "ELF\x02\x01\x01";
  for (int i = 0; i < 200; ++i) binary += static_cast<char>(i * 7);
  const std::string matrix = write("matrix.bin", binary);
  Result bad_matrix = run("--threads 1 similarity " + model + " " + data + " --matrix " + matrix + " --out " +
                          (test_dir() / "s.csv").string());
  EXPECT_EQ(bad_matrix.code, 1);
  EXPECT_TRUE(std::all_of(bad_matrix.output.begin(), bad_matrix.output.end(),
                          [](char c) { return c == '\n' || (c >= 32 && c < 127); }))
      << bad_matrix.output;
}

// Issue 25's matrix: every command that reads a checkpoint or a FASTA file, against every bad file in
// that place. Each case: exit 1, exactly one output line, starting "error: " and naming the file; the
// previous output (a file holding "previous", or no folder) as it was; no temporary left.
TEST(CliHostile, EveryCommandRefusesEveryBadInputInOneLine) {
  const fs::path dir = temp_dir("bad-input-matrix");
  const std::string model = tiny_checkpoint("mlm");
  const std::string fasta = write("good.fasta", protein_fasta(4));
  std::string junk;
  for (int i = 0; i < 3000; ++i) junk += static_cast<char>((i * 131 + 7) % 256);
  std::string gzip_head = "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03";  // a gzip header, then nothing
  gzip_head += "\x4b\x4c\x4a";
  const std::string model_bytes = read_file(model);
  std::map<std::string, std::string> bad = {
      {"missing", (dir / "no-such-file").string()},
      {"directory", dir.string()},
      {"empty", write("empty.bin", "")},
      {"junk", write("junk.bin", junk)},
      {"truncated gzip", write("cut.fasta.gz", gzip_head)},
  };
  std::map<std::string, std::string> bad_models = bad;
  bad_models["a FASTA file"] = fasta;
  bad_models["half a checkpoint"] = write("half.pt", model_bytes.substr(0, model_bytes.size() / 2));
  bad_models["another vocabulary"] = (fs::path(PERFORMER_SOURCE_DIR) / "tests/cli/golden/foreign-vocabulary.pt").string();
  std::map<std::string, std::string> bad_fastas = bad;
  bad_fastas["a checkpoint"] = model;
  const std::string out_file = (dir / "out.txt").string(), out_dir = (dir / "out-folder").string();
  // {command with M for the model, F for the FASTA file}, output file or folder
  const std::vector<std::pair<std::string, std::string>> commands = {
      {"score M F --out " + out_file, out_file},
      {"evaluate M F", ""},
      {"variants M --sequence F --scan --out " + out_file, out_file},
      {"embed M F --out " + out_dir, out_dir},
      {"attention M --sequence F --out " + out_dir, out_dir},
      {"similarity M F --n 2 --out " + out_file, out_file},
      {"data stats F", ""},
      {"data check F", ""},
      {"train --data F --preset tiny --max-steps 1 --out " + out_file, out_file},
  };
  int cases = 0;
  for (const auto& [command, output] : commands) {
    for (const bool model_slot : {true, false}) {
      if (model_slot && command.find(" M ") == std::string::npos) continue;
      for (const auto& [what, path] : model_slot ? bad_models : bad_fastas) {
        std::string args = command;
        const auto replace = [&](const std::string& key, const std::string& value) {
          const size_t at = args.find(key);
          if (at != std::string::npos) args.replace(at, key.size(), value);
        };
        replace(" M ", " " + (model_slot ? path : model) + " ");
        replace(" F", " " + (model_slot ? fasta : path));
        fs::remove_all(out_dir);
        std::ofstream(out_file) << "previous\n";
        Result r = run("--threads 1 " + args);
        ++cases;
        const std::string label = command.substr(0, command.find(' ')) + " with " + (model_slot ? "model " : "FASTA ") + what;
        EXPECT_EQ(r.code, 1) << label << ": " << r.output;
        // train prints its model line before it reads data; everything else prints the error alone.
        const std::string first = r.output.rfind("model: ", 0) == 0 ? r.output.substr(r.output.find('\n') + 1) : r.output;
        EXPECT_EQ(std::count(first.begin(), first.end(), '\n'), 1) << label << ": " << r.output;
        EXPECT_EQ(first.rfind("error: ", 0), 0u) << label << ": " << r.output;
        EXPECT_EQ(first.find("evaluated to false"), std::string::npos) << label << ": " << r.output;  // no parser grammar
        // The file is named (the directory case names the folder; a path in a message may be quoted).
        EXPECT_NE(r.output.find(fs::path(path).filename().string()), std::string::npos) << label << ": " << r.output;
        EXPECT_EQ(read_file(out_file), "previous\n") << label;
        EXPECT_FALSE(fs::exists(out_dir)) << label;
        EXPECT_EQ(temporaries(dir), 0) << label;
      }
    }
  }
  EXPECT_EQ(cases, 6 * 8 + 9 * 6);
}

// 15: interrupted runs leave no temporary: an input error, and SIGTERM in the middle of the work.
TEST(CliHostile, InterruptedRunsLeaveNoTemporary) {
  const std::string model = tiny_checkpoint("mlm");
  const std::string out = (test_dir() / "scores.tsv").string();
  EXPECT_EQ(run("--threads 1 score " + model + " " + write("bad.fasta", ">a\nMK\n>b\nM*K\n") + " --out " + out).code, 1);
  EXPECT_FALSE(fs::exists(out));
  EXPECT_EQ(temporaries(test_dir()), 0);
  std::string many;
  for (int i = 0; i < 400; ++i) many += ">s" + std::to_string(i) + "\n" + std::string(400, "ACDEFGHIKL"[i % 10]) + "\n";
  Result killed = shell("timeout -s TERM 3 PERFORMER --threads 1 score " + model + " " + write("many.fasta", many) +
                        " --out " + out);
  EXPECT_EQ(killed.code, 124) << killed.output;  // timeout's status: the command was killed by the signal
  EXPECT_FALSE(fs::exists(out));
  EXPECT_EQ(temporaries(test_dir()), 0);
}

// Crash safety: train killed with SIGKILL at many moments, with a checkpoint every step. Each kill
// lands after the resumed run has logged a step (however slow the machine), after a different delay,
// so the kills spread over steps, checkpoint writes and log writes. After each kill the checkpoint
// loads and its checksum holds, and every log line but a torn last one is one JSON object; a resume
// cuts the torn line off before it appends.
TEST(CliHostile, TrainSurvivesKillNineAtAnyMoment) {
  const std::string data = write("data.fasta", protein_fasta(200));
  const std::string ckpt = (test_dir() / "model.pt").string(), log = (test_dir() / "log.jsonl").string();
  const std::string fasta = write("eval.fasta", kFasta);
  const std::string train = std::string("'").append(PERFORMER_EXE).append("'") + " --threads 1 train --data " + data +
                            " --preset tiny --tokens-per-batch 1024 --eval-every 0 --eval-batches 1 --warmup 1 "
                            "--checkpoint-every 1 --log-every 1 --out " + ckpt + " --log " + log;
  ASSERT_EQ(run_command(train + " --max-steps 2").code, 0);
  // kill.sh DELAY: resume the run, wait for its first new log line, sleep DELAY, SIGKILL it.
  const std::string script = write("kill.sh",
      "#!/usr/bin/env bash\n"
      "before=$(wc -l < " + log + ")\n" +
      train + " --max-steps 100000 --resume " + ckpt + " >/dev/null 2>&1 &\n"
      "pid=$!\n"
      "for i in $(seq 600); do [ \"$(wc -l < " + log + ")\" -gt \"$before\" ] && break; sleep 0.05; done\n"
      "sleep \"$1\"\n"
      "kill -9 $pid\n"
      "wait $pid\n"
      "echo \"status $?\"\n");
  const int kills = 24;
  int loaded = 0;
  for (int k = 0; k < kills; ++k) {
    const std::string delay = std::to_string(0.013 * ((k * 7) % 24));  // 0 to 0.3 s
    Result killed = run_command("bash " + script + " " + delay);
    ASSERT_NE(killed.output.find("status 137"), std::string::npos) << "kill " << k << ": " << killed.output;
    Result loads = run("--threads 1 evaluate " + ckpt + " " + fasta);
    EXPECT_EQ(loads.code, 0) << "kill " << k << ": " << loads.output;
    loaded += loads.code == 0;
    std::istringstream lines(read_file(log));
    std::string line;
    for (std::string next; std::getline(lines, next); line = next) {
      if (!line.empty()) {
        EXPECT_TRUE(nlohmann::json::accept(line)) << "kill " << k << ": " << line;
      }
    }
  }
  EXPECT_EQ(loaded, kills);
  Result more = run_command(train + " --max-steps 100000 --max-time 1s --resume " + ckpt);
  EXPECT_EQ(more.code, 0) << more.output;
  std::istringstream lines(read_file(log));
  for (std::string line; std::getline(lines, line);) EXPECT_TRUE(nlohmann::json::accept(line)) << line;
  // SIGKILL leaves no chance to clean up: the temporary of a checkpoint being written stays (under its
  // own unique name, never under the checkpoint's). What matters is that the checkpoint is whole.
  std::cerr << "kills: " << kills << ", checkpoint loaded after " << loaded << ", stray temporaries: "
            << temporaries(test_dir()) << "\n";
}
