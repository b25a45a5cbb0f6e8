// performer similarity: the amino-acid similarity matrix learned by attention, against BLOSUM62.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>

#include "bio/similarity.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "cli/model_io.h"
#include "cli/progress.h"
#include "io/table.h"
#include "core/errors.h"

namespace performer::cli {
namespace {

constexpr std::string_view kOrder = bio::kStandardOrder;

struct SimilarityArgs {
  std::string model, fasta, out = "similarity.csv", matrix = "blosum62", device = "cpu";
  bio::UnknownPolicy unknown = bio::UnknownPolicy::error;
  int64_t n = 800;
  int top = 10;
};

void run_similarity(const SimilarityArgs& a) {
  refuse_overwriting("--out", a.out, {a.model, a.fasta, a.matrix});
  core::Checkpoint c = load_model(a.model, a.device);
  Progress progress("analysed", "sequences", static_cast<double>(a.n));
  const bio::ResidueSimilarity result = bio::residue_similarity(
      c.model, a.fasta, a.n, a.matrix, a.unknown, [&](int64_t done) { progress.update(static_cast<double>(done)); });
  progress.clear();
  const at::Tensor& similarity = result.attention;  // [20, 20]
  const at::Tensor& blosum = result.reference;      // [20, 20]
  const int64_t types = static_cast<int64_t>(kOrder.size());

  io::Table csv;
  csv.header = {"residue"};
  for (char ch : kOrder) csv.header.push_back(std::string(1, ch));
  for (int64_t i = 0; i < types; ++i) {
    std::vector<std::string> cells = {std::string(1, kOrder[i])};
    for (int64_t j = 0; j < types; ++j) cells.push_back(io::format_number(similarity[i][j].item<double>(), 4));
    csv.rows.push_back(cells);
  }
  csv.write_csv(a.out);

  struct Pair {
    char a, b;
    double score, blosum;
  };
  std::vector<Pair> pairs;
  for (int64_t i = 0; i < types; ++i)
    for (int64_t j = i + 1; j < types; ++j)
      pairs.push_back({kOrder[i], kOrder[j], similarity[i][j].item<double>(), blosum[i][j].item<double>()});
  std::sort(pairs.begin(), pairs.end(), [](const Pair& x, const Pair& y) { return x.score > y.score; });
  // With --out -, standard output holds the CSV alone; the summary goes to stderr.
  std::ostream& text = a.out == "-" ? std::cerr : std::cout;
  char line[256];
  std::snprintf(line, sizeof line, "similarity from attention over %lld sequences (%s, %s); written to %s\n",
                static_cast<long long>(result.sequences), core::to_string(c.config.attention).c_str(),
                core::to_string(c.config.objective).c_str(), a.out == "-" ? "standard output" : a.out.c_str());
  text << line;
  std::snprintf(line, sizeof line, "against %s, off-diagonal pairs: Pearson %.3f, Spearman %.3f\n",
                result.reference_name.c_str(), result.pearson, result.spearman);
  text << line;
  io::Table top;
  top.header = {"rank", "pair", "attention_similarity", result.reference_name};
  for (int i = 0; i < std::min<int>(a.top, static_cast<int>(pairs.size())); ++i) {
    top.rows.push_back({std::to_string(i + 1), std::string(1, pairs[i].a) + "-" + std::string(1, pairs[i].b),
                        io::format_number(pairs[i].score, 3), io::format_number(pairs[i].blosum, 1)});
  }
  text << top.text();
}

}  // namespace

void setup_similarity(CLI::App& sub, const GlobalOptions& global) {
  auto a = std::make_shared<SimilarityArgs>();
  sub.add_option("model", a->model, "checkpoint written by performer train")->required();
  sub.add_option("fasta", a->fasta, "sequences to average over (FASTA, plain/gzip/bzip2, or -)")->required();
  sub.add_option("--n", a->n, "sequences used (the first n)")->check(CLI::PositiveNumber)->capture_default_str();
  sub.add_option("--out", a->out, "20 x 20 CSV of the similarity matrix (-: standard output)")->capture_default_str();
  add_unknown_option(sub, a->unknown);
  sub.add_option("--matrix", a->matrix, "reference: blosum30/45/62/80 or an NCBI-format matrix file")
      ->capture_default_str();
  sub.add_option("--top", a->top, "most similar pairs listed")->capture_default_str();
  add_device_option(sub, a->device);
  sub.footer(
      "For each pair of residue types (a, b): the share of attention that residues of type a give to residues\n"
      "of type b, over b's share of all residues, log2, symmetrised, summed over layers and heads. With one-hot\n"
      "residue types as the values, attention computes this without forming any L x L matrix.");
  sub.callback([a, &global] {
    apply_global_options(global);
    run_similarity(*a);
  });
}

}  // namespace performer::cli
