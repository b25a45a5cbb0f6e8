// performer variants: effects of point mutations and multi-mutants on one sequence.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "bio/mutation.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "cli/options.h"
#include "cli/model_io.h"
#include "core/analysis.h"
#include "core/errors.h"
#include "io/file.h"
#include "io/table.h"

namespace performer::cli {
namespace {

struct VariantArgs {
  std::string model, sequence, mutations, column = "mutant", out, device = "cpu";
  int64_t offset = 1;
  bool scan = false;
  int64_t batch = 32;
  std::vector<std::string> marginals = {"masked", "wt"};
};

// --scan: every single mutant of the wild type to each of the other 19 standard residues, position by
// position (A..Y order), scored from whole-sequence passes: a deep-mutational-scan table.
void run_scan(const VariantArgs& a, core::Checkpoint& c, const bio::SequenceRecord& wt,
              const std::vector<int64_t>& residues) {
  std::vector<int64_t> tokens;
  for (int32_t t = bio::Vocabulary::kFirstResidue; t < bio::Vocabulary::kFirstResidue + bio::Vocabulary::kStandard; ++t)
    tokens.push_back(t);
  const int64_t n = static_cast<int64_t>(residues.size());
  std::vector<at::Tensor> columns;  // each [L, 20]
  std::vector<std::string> names = {"row", a.column};
  if (c.config.causal()) {
    Progress progress("scored", "mutants", static_cast<double>(19 * n));
    columns.push_back(core::log_likelihood_ratio_scan(c.model, residues, tokens, a.batch, [&](int64_t done) {
      progress.update(static_cast<double>(done));
    }));
    progress.clear();
    names.push_back("log_likelihood_ratio");
  } else {
    const bool masked = std::find(a.marginals.begin(), a.marginals.end(), "masked") != a.marginals.end();
    const bool wt_only = !masked;
    if (masked) {
      Progress progress("masked", "positions", static_cast<double>(n));
      columns.push_back(core::masked_marginal_scan(c.model, residues, tokens, a.batch, [&](int64_t done) {
        progress.update(static_cast<double>(done));
      }));
      progress.clear();
      names.push_back("masked_marginal");
    }
    if (wt_only || std::find(a.marginals.begin(), a.marginals.end(), "wt") != a.marginals.end()) {
      columns.push_back(core::wildtype_marginal_scan(c.model, residues, tokens));
      names.push_back("wt_marginal");
    }
  }
  std::ostringstream out;
  out << io::delimited_row(names, '\t');
  int64_t row = 0;
  for (int64_t i = 0; i < n; ++i) {
    const char wt_letter = wt.sequence[static_cast<size_t>(i)];
    for (size_t t = 0; t < tokens.size(); ++t) {
      if (tokens[t] == residues[i]) continue;
      std::vector<std::string> cells = {std::to_string(++row),
                                        std::string(1, static_cast<char>(std::toupper(static_cast<unsigned char>(wt_letter)))) +
                                            std::to_string(i + a.offset) +
                                            bio::Vocabulary::letter(static_cast<int32_t>(tokens[t]))};
      for (const at::Tensor& column : columns)
        cells.push_back(io::format_number(column[i][static_cast<int64_t>(t)].item<double>(), 6));
      out << io::delimited_row(cells, '\t');
    }
  }
  io::write_file(a.out.empty() ? "-" : a.out, out.str());
}

void run_variants(const VariantArgs& a) {
  if (!a.scan && a.mutations.empty()) throw ConfigError("give --mutations FILE, or --scan for every single mutant");
  refuse_overwriting("--out", a.out, {a.model, a.sequence, a.mutations});
  core::Checkpoint c = load_model(a.model, a.device);
  const bio::SequenceRecord wt = first_record(a.sequence);
  const auto residues = bio::residue_tokens(wt.sequence, bio::UnknownPolicy::error, a.sequence);
  if (a.scan) {
    for (size_t i = 0; i < residues.size(); ++i)
      if (!bio::Vocabulary::is_standard(static_cast<int32_t>(residues[i])))
        throw InputError("'" + a.sequence + "' residue " + std::to_string(i + a.offset) + " is " +
                         bio::Vocabulary::token_name(static_cast<int32_t>(residues[i])) +
                         ", not one of the 20 standard amino acids: --scan needs a standard wild type");
    run_scan(a, c, wt, residues);
    return;
  }
  std::ifstream in(a.mutations);
  if (!in) throw InputError("cannot open mutations file '" + a.mutations + "'");
  std::string line;
  if (!std::getline(in, line)) throw InputError("'" + a.mutations + "' is empty");
  const auto header = io::split_delimited(line, ',');
  const auto col = std::find(header.begin(), header.end(), a.column);
  if (col == header.end()) {
    throw InputError("'" + a.mutations + "' has no column '" + a.column + "' (use --mutation-col)");
  }
  const size_t index = col - header.begin();
  std::ostringstream out;
  std::vector<std::string> columns = {"row", a.column};
  if (c.config.causal()) columns.push_back("log_likelihood_ratio");
  else columns.insert(columns.end(), {"masked_marginal", "wt_marginal"});
  out << io::delimited_row(columns, '\t');
  int64_t row = 1;
  Progress progress("scored", "rows");
  while (std::getline(in, line)) {
    progress.update(static_cast<double>(row - 1));
    ++row;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const auto cells = io::split_delimited(line, ',');
    if (index >= cells.size()) throw InputError("'" + a.mutations + "' row " + std::to_string(row) + ": no " + a.column + " value");
    std::vector<core::Substitution> subs;
    try {
      const auto mutations = bio::parse_mutations(cells[index]);
      bio::apply_mutations(wt.sequence, mutations, a.offset);  // checks positions and wild types
      for (const auto& m : mutations) {
        subs.push_back({m.position - a.offset, bio::Vocabulary::residue_id(m.wild_type), bio::Vocabulary::residue_id(m.mutant)});
      }
    } catch (const InputError& e) {
      throw InputError("'" + a.mutations + "' row " + std::to_string(row) + ": " + e.what());
    }
    std::vector<std::string> scored = {std::to_string(row), cells[index]};
    if (c.config.causal()) {
      scored.push_back(io::format_number(core::log_likelihood_ratio(c.model, residues, subs), 6));
    } else {
      scored.push_back(io::format_number(core::masked_marginal(c.model, residues, subs), 6));
      scored.push_back(io::format_number(core::wildtype_marginal(c.model, residues, subs), 6));
    }
    out << io::delimited_row(scored, '\t');
  }
  io::write_file(a.out.empty() ? "-" : a.out, out.str());
}

}  // namespace

void setup_variants(CLI::App& sub, const GlobalOptions& global) {
  auto a = std::make_shared<VariantArgs>();
  sub.add_option("model", a->model, "checkpoint written by performer train")->required();
  sub.add_option("--sequence", a->sequence, "FASTA file whose first record is the wild type")->required();
  auto* mutations = sub.add_option("--mutations", a->mutations,
                                   "CSV with a header row and a column of mutations (A24C, A24C:G30D)");
  auto* scan = sub.add_flag("--scan", a->scan, "every single mutant of the sequence (19 x L rows) instead of --mutations");
  mutations->excludes(scan);
  sub.add_option("--batch", a->batch, "sequences per forward pass (--scan)")->check(CLI::PositiveNumber)->capture_default_str();
  sub.add_option("--marginals", a->marginals, "--scan with an mlm model: masked, wt or both (wt: one pass)")
      ->delimiter(',')->check(CLI::IsMember({"masked", "wt"}))->capture_default_str();
  sub.add_option("--mutation-col", a->column, "name of the mutation column")->capture_default_str();
  sub.add_option("--offset", a->offset, "number of the sequence's first residue in the mutation numbering")
      ->capture_default_str();
  sub.add_option("--out", a->out, "TSV output (default or -: standard output)");
  add_device_option(sub, a->device);
  sub.footer(
      "Masked (mlm) models: masked_marginal = sum over mutated positions of log p(mt) - log p(wt) with all of them\n"
      "masked together; wt_marginal = the same from the unmasked wild type. Autoregressive (ar) models:\n"
      "log_likelihood_ratio = log p(mutant) - log p(wild type). A wild type that does not match the sequence is\n"
      "an error naming the row. --scan scores every single mutant (each position to each other standard residue,\n"
      "A..Y) in batched passes: the table a deep-mutational-scan heat map is drawn from.");
  sub.callback([a, &global] {
    apply_global_options(global);
    run_variants(*a);
  });
}

}  // namespace performer::cli
