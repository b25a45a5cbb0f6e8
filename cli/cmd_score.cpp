// performer score: log-likelihood of every sequence (exact for ar models, pseudo-likelihood for mlm).
#include <chrono>
#include <cstdio>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "bio/header.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "cli/progress.h"
#include "cli/model_io.h"
#include "core/analysis.h"
#include "core/errors.h"
#include "io/file.h"
#include "io/table.h"

namespace performer::cli {
namespace {

struct ScoreArgs {
  std::string model, fasta, out, device = "cpu";
  bio::UnknownPolicy unknown = bio::UnknownPolicy::error;
  int64_t batch = 32;
  int64_t tokens_per_pass = 16384;
};

// Records are scored a group at a time (several short proteins share a forward pass) and written in
// their input order.
constexpr size_t kGroupSequences = 512;
constexpr size_t kGroupResidues = 1 << 17;

void run_score(const ScoreArgs& a) {
  refuse_overwriting("--out", a.out, {a.model, a.fasta});
  core::Checkpoint c = load_model(a.model, a.device);
  const auto policy = a.unknown;
  io::Output output(a.out.empty() ? "-" : a.out);
  std::ostream& out = output.stream();
  out << io::delimited_row({"id", "length", "log_likelihood", "mean_log_likelihood", "perplexity", "method"}, '\t');
  const std::string method = c.config.causal() ? "autoregressive" : "pseudo";
  bio::FastaReader reader(a.fasta);
  bio::SequenceRecord r;
  uint64_t skipped = 0, scored = 0, residues_scored = 0;
  const auto start = std::chrono::steady_clock::now();
  // Counted in residues, so that one long protein (L / batch forward passes) moves the display too.
  Progress progress("scored", "residues");
  std::vector<std::string> ids;
  std::vector<std::vector<int64_t>> group;
  size_t group_residues = 0;
  auto flush = [&] {
    if (group.empty()) return;
    std::vector<core::SequenceScore> scores;
    if (c.config.causal()) {
      uint64_t done = residues_scored;
      scores = core::score_autoregressive_batch(c.model, group, a.tokens_per_pass, [&](size_t i) {
        done += group[i].size();
        progress.update(static_cast<double>(done), std::to_string(scored) + " sequences");
      });
    } else {
      scores = core::score_pseudo_likelihood_batch(c.model, group, a.batch, [&](int64_t rows) {
        progress.update(static_cast<double>(residues_scored + static_cast<uint64_t>(rows)),
                        std::to_string(scored) + " sequences");
      });
    }
    for (size_t i = 0; i < group.size(); ++i) {
      const core::SequenceScore& s = scores[i];
      out << io::delimited_row({ids[i], std::to_string(s.length), io::format_number(s.log_likelihood, 6),
                                io::format_number(s.mean_log_likelihood, 6), io::format_number(s.perplexity, 6), method},
                               '\t');
      ++scored;
      residues_scored += static_cast<uint64_t>(s.length);
    }
    ids.clear();
    group.clear();
    group_residues = 0;
  };
  while (reader.next(r)) {
    auto residues = bio::residue_tokens(r.sequence, policy, reader.where(r));
    if (residues.empty()) {
      ++skipped;
      continue;
    }
    ids.push_back(bio::parse_header(r.header).id);
    group_residues += residues.size();
    group.push_back(std::move(residues));
    if (group.size() >= kGroupSequences || group_residues >= kGroupResidues) flush();
  }
  flush();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  output.commit();
  if (skipped) std::cerr << "skipped " << skipped << " records with unknown characters (--unknown skip)\n";
  std::fprintf(stderr, "scored %llu sequences (%llu residues, %s) in %.1f s: %.2f sequences/s, %.0f residues/s\n",
               static_cast<unsigned long long>(scored), static_cast<unsigned long long>(residues_scored),
               method.c_str(), seconds, scored / std::max(seconds, 1e-9), residues_scored / std::max(seconds, 1e-9));
}

}  // namespace

void setup_score(CLI::App& sub, const GlobalOptions& global) {
  auto a = std::make_shared<ScoreArgs>();
  sub.add_option("model", a->model, "checkpoint written by performer train")->required();
  sub.add_option("fasta", a->fasta, "sequences (FASTA, plain/gzip/bzip2, or - for stdin)")->required();
  sub.add_option("--out", a->out, "TSV output (default or -: standard output)");
  sub.add_option("--batch", a->batch, "masked copies per forward pass (mlm pseudo-likelihood)")
      ->check(CLI::PositiveNumber)->capture_default_str();
  sub.add_option("--tokens-per-pass", a->tokens_per_pass, "sequences x padded length per forward pass (ar)")
      ->check(CLI::PositiveNumber)->capture_default_str();
  add_unknown_option(sub, a->unknown);
  add_device_option(sub, a->device);
  sub.footer(
      "Autoregressive models give exact log-likelihoods, sum over residues of log p(x_i | x_<i>). Masked models\n"
      "give pseudo-log-likelihoods: every residue masked once (L forward passes, batched). Natural logs;\n"
      "perplexity = exp(-mean). Sequences may be longer than the training length: rotary positions have no\n"
      "limit (scores degrade gradually beyond it); models with learned positions refuse longer sequences.\n"
      "Several sequences share a forward pass (padded; the padding changes no score beyond float rounding), so\n"
      "results do not depend on the other records.");
  sub.callback([a, &global] {
    apply_global_options(global);
    run_score(*a);
  });
}

}  // namespace performer::cli
