#pragma once
// The command table: each subcommand lives in its own cmd_*.cpp and registers itself on the app.
#include <CLI/CLI.hpp>

namespace performer::cli {

// Options every command shares, filled before the command runs.
struct GlobalOptions {
  int threads = 0;  // 0: all cores
};

struct Command {
  const char* name;
  const char* summary;
  // Adds the subcommand's options to sub and sets its callback (which may throw performer::Error).
  void (*setup)(CLI::App& sub, const GlobalOptions& global);
};

void setup_info(CLI::App& sub, const GlobalOptions& global);
void setup_bench(CLI::App& sub, const GlobalOptions& global);
void setup_data(CLI::App& sub, const GlobalOptions& global);
void setup_train(CLI::App& sub, const GlobalOptions& global);
void setup_score(CLI::App& sub, const GlobalOptions& global);
void setup_evaluate(CLI::App& sub, const GlobalOptions& global);
void setup_variants(CLI::App& sub, const GlobalOptions& global);
void setup_embed(CLI::App& sub, const GlobalOptions& global);
void setup_attention(CLI::App& sub, const GlobalOptions& global);
void setup_similarity(CLI::App& sub, const GlobalOptions& global);

// Applies the global options (threads) before a command runs.
void apply_global_options(const GlobalOptions& global);

}  // namespace performer::cli
