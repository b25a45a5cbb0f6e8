// performer: command-line entry point. Exit codes: 0 success, 1 bad input or failure, 2 bad usage.
#include <c10/util/Exception.h>

#include <csignal>
#include <iostream>

#include "cli/commands.h"
#include "core/errors.h"
#include "io/file.h"
#include "tools/memory.h"
#include "tools/system_info.h"

namespace performer::cli {

constexpr int kThreadsPerCore = 4;

void apply_global_options(const GlobalOptions& global) {
  // Far more threads than cores only make LibTorch and BLAS wait on each other (a 100-residue
  // evaluate with --threads 1000 ran for minutes): capped at 4 per core, and said so.
  const int cores = tools::default_threads();
  int threads = global.threads > 0 ? global.threads : cores;
  if (threads > kThreadsPerCore * cores) {
    std::cerr << "note: --threads " << threads << " is more than " << kThreadsPerCore << " per core; using "
              << kThreadsPerCore * cores << " (" << cores << " cores)\n";
    threads = kThreadsPerCore * cores;
  }
  tools::use_threads(threads);
  tools::keep_freed_memory();
}

namespace {

const Command kCommands[] = {
    {"info", "LibTorch version, devices, threads, BLAS and a measured matmul speed", setup_info},
    {"train", "train a protein language model (masked or autoregressive) on FASTA files", setup_train},
    {"evaluate", "held-out loss, perplexity and accuracy on a FASTA file", setup_evaluate},
    {"score", "log-likelihood of sequences: exact (ar) or pseudo-likelihood (mlm)", setup_score},
    {"variants", "score point mutations and multi-mutants of a sequence", setup_variants},
    {"embed", "per-token, mean and <cls> embeddings as .npy", setup_embed},
    {"attention", "attention maps of every layer and head, and contact scores, as .npy", setup_attention},
    {"similarity", "amino-acid similarity matrix from attention, against BLOSUM62", setup_similarity},
    {"data", "look at, validate and split sequence files", setup_data},
    {"bench", "benchmarks: attention speed and memory, FAVOR approximation error", setup_bench},
};

// What a user can do about an error, in this program's options: the library names the setting
// (Error::setting), the command that failed says whether it has the option.
std::string hint(const performer::Error& e, const CLI::App* command) {
  auto has = [&](const std::string& option) { return command && command->get_option_no_throw(option) != nullptr; };
  const std::string& setting = e.setting();
  if (setting == "unknown_policy" && has("--unknown")) {
    return " (use --unknown x to read it as X, or --unknown skip to drop such records)";
  }
  if (setting == "learning_rate" && has("--lr")) return " (try a lower --lr)";
  if (setting == "offset" && has("--offset")) return " (check --offset)";
  if (setting == "optimizer" && has("--optimizer")) return " (--optimizer)";
  return "";
}

// The innermost subcommand that ran (performer data split: "split").
const CLI::App* command_of(const CLI::App& app) {
  const CLI::App* command = &app;
  while (!command->get_subcommands().empty()) command = command->get_subcommands().front();
  return command;
}

}  // namespace
}  // namespace performer::cli

// SIGINT/SIGTERM: the temporaries of unfinished outputs go, then the signal ends the process as usual.
extern "C" void remove_temporaries_and_exit(int signal_number) {
  performer::io::remove_temporaries();
  std::signal(signal_number, SIG_DFL);
  std::raise(signal_number);
}

int main(int argc, char** argv) {
  using namespace performer::cli;
  std::signal(SIGINT, remove_temporaries_and_exit);
  std::signal(SIGTERM, remove_temporaries_and_exit);
  // Past a file-size limit (ulimit -f) a write fails with EFBIG and is reported like a full disk,
  // instead of the signal ending the process without a word.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{"performer: protein language models with FAVOR+ (Performer) attention"};
  app.require_subcommand(1);
  GlobalOptions global;
  app.add_option("--threads", global.threads, "CPU threads for LibTorch (default: all cores)")
      ->check(CLI::NonNegativeNumber);
  for (const auto& command : kCommands) {
    command.setup(*app.add_subcommand(command.name, command.summary), global);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  } catch (const performer::Error& e) {
    std::cerr << "error: " << e.what() << hint(e, command_of(app)) << "\n";
    return 1;
  } catch (const c10::Error& e) {
    std::cerr << "error: " << e.what_without_backtrace() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
