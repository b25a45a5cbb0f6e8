// performer similarity: amino-acid similarity matrices learned by a model (attention, attention profiles,
// predicted substitutions, embeddings), against BLOSUM62 and beside two controls.
#include <algorithm>
#include <cmath>
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
  std::string model, fasta, out = "similarity.csv", device = "cpu";
  bio::SimilarityOptions options;
  bool no_controls = false, per_head = false;
  int top = 10;
};

std::string number(double v, int digits) { return std::isfinite(v) ? io::format_number(v, digits) : "nan"; }

// "Pearson 0.412, Spearman 0.377"
std::string correlations(const bio::SimilarityMatrix& m) {
  return "Pearson " + number(m.pearson, 3) + ", Spearman " + number(m.spearman, 3);
}

void run_similarity(SimilarityArgs a) {
  bio::SimilarityOptions& o = a.options;
  o.controls = !a.no_controls;
  const bool reads = bio::uses_sequences(o.method);
  if (!reads && !a.fasta.empty())
    throw ConfigError("the embedding method reads no sequences: leave out the FASTA file");
  if (reads && a.fasta.empty()) throw ConfigError("the " + core::to_string(o.method) + " method needs a FASTA file");
  if (a.per_head && !bio::uses_attention(o.method))
    throw ConfigError("--per-head applies to the attention methods (attention, attention-profile)");
  refuse_overwriting("--out", a.out, {a.model, a.fasta, o.matrix});
  core::Checkpoint c = load_model(a.model, a.device);
  Progress progress("analysed", "sequences", static_cast<double>(o.n));
  const bio::ResidueSimilarity result = bio::residue_similarity(
      c.model, a.fasta, o, [&](int64_t done) { progress.update(static_cast<double>(done)); });
  progress.clear();
  const at::Tensor& similarity = result.model.matrix;  // [20, 20]
  const at::Tensor& blosum = result.reference;         // [20, 20]
  const int64_t types = static_cast<int64_t>(kOrder.size());
  const std::string method = core::to_string(o.method);

  io::Table csv;
  csv.header = {"residue"};
  for (char ch : kOrder) csv.header.push_back(std::string(1, ch));
  for (int64_t i = 0; i < types; ++i) {
    std::vector<std::string> cells = {std::string(1, kOrder[i])};
    for (int64_t j = 0; j < types; ++j) cells.push_back(number(similarity[i][j].item<double>(), 4));
    csv.rows.push_back(cells);
  }
  csv.write_csv(a.out);

  // With --out -, standard output holds the CSV alone; the summary goes to stderr.
  std::ostream& text = a.out == "-" ? std::cerr : std::cout;
  text << "similarity by " << method;
  if (reads) text << " over " << result.sequences << " sequences (" << result.residues << " residues)";
  text << "; " << core::to_string(c.config.attention) << ", " << core::to_string(c.config.objective)
       << "; written to " << (a.out == "-" ? "standard output" : a.out) << "\n";
  text << "against " << result.reference_name << ", off-diagonal pairs: " << correlations(result.model) << "\n";
  if (result.untrained) text << "control, the untrained model: " << correlations(*result.untrained) << "\n";
  if (result.shuffled) text << "control, shuffled residues: " << correlations(*result.shuffled) << "\n";

  io::Table ranks;
  ranks.header = {"pair", "rank"};
  if (result.untrained) ranks.header.push_back("untrained");
  if (result.shuffled) ranks.header.push_back("shuffled");
  ranks.header.push_back(result.reference_name);
  for (size_t p = 0; p < bio::kNotablePairs.size(); ++p) {
    const std::string_view pair = bio::kNotablePairs[p];
    std::vector<std::string> cells = {std::string(1, pair[0]) + "-" + std::string(1, pair[1]),
                                      std::to_string(result.model.pair_ranks[p])};
    if (result.untrained) cells.push_back(std::to_string(result.untrained->pair_ranks[p]));
    if (result.shuffled) cells.push_back(std::to_string(result.shuffled->pair_ranks[p]));
    cells.push_back(std::to_string(result.reference_pair_ranks[p]));
    ranks.rows.push_back(cells);
  }
  text << "ranks of pairs among the 190 (1 = most similar; ties share the best rank):\n" << ranks.text();

  struct Pair {
    char a, b;
    double score, blosum;
  };
  std::vector<Pair> pairs;
  for (int64_t i = 0; i < types; ++i)
    for (int64_t j = i + 1; j < types; ++j)
      pairs.push_back({kOrder[i], kOrder[j], similarity[i][j].item<double>(), blosum[i][j].item<double>()});
  std::stable_sort(pairs.begin(), pairs.end(), [](const Pair& x, const Pair& y) {
    return std::isfinite(x.score) && (!std::isfinite(y.score) || x.score > y.score);
  });
  io::Table top;
  top.header = {"rank", "pair", method + "_similarity", result.reference_name};
  for (int i = 0; i < std::min<int>(a.top, static_cast<int>(pairs.size())); ++i) {
    top.rows.push_back({std::to_string(i + 1), std::string(1, pairs[i].a) + "-" + std::string(1, pairs[i].b),
                        number(pairs[i].score, 3), io::format_number(pairs[i].blosum, 1)});
  }
  text << top.text();

  if (a.per_head) {
    io::Table heads;
    heads.header = {"layer", "head", "pearson", "spearman"};
    for (const bio::HeadScore& h : result.heads)
      heads.rows.push_back({std::to_string(h.layer), h.head < 0 ? "all" : std::to_string(h.head), number(h.pearson, 3),
                            number(h.spearman, 3)});
    text << (o.method == bio::SimilarityMethod::attention ? "each head and each layer" : "each layer (across its heads)")
         << " against " << result.reference_name << ":\n"
         << heads.text();
  }
}

}  // namespace

void setup_similarity(CLI::App& sub, const GlobalOptions& global) {
  auto a = std::make_shared<SimilarityArgs>();
  sub.add_option("model", a->model, "checkpoint written by performer train")->required();
  sub.add_option("fasta", a->fasta, "sequences to average over (FASTA, plain/gzip/bzip2, or -); not for embedding");
  add_choice(sub, "--method", a->options.method, "how the matrix is made (see below)");
  sub.add_option("--n", a->options.n, "sequences used (the first n)")->check(CLI::PositiveNumber)->capture_default_str();
  sub.add_option("--out", a->out, "20 x 20 CSV of the similarity matrix (-: standard output)")->capture_default_str();
  add_unknown_option(sub, a->options.unknown);
  sub.add_option("--matrix", a->options.matrix, "reference: blosum30/45/62/80 or an NCBI-format matrix file")
      ->capture_default_str();
  sub.add_option("--exclude-near", a->options.exclude_near,
                 "attention methods: leave out query-key pairs with |i - j| <= K (neighbour effects)")
      ->check(CLI::NonNegativeNumber);
  sub.add_option("--min-attention", a->options.min_attention,
                 "attention methods: count only weights >= W (Vig et al. use 0.1)")
      ->check(CLI::Range(0.0, 0.999999));
  sub.add_option("--layers", a->options.layers, "attention methods: only these layers (0-based, comma-separated)")
      ->delimiter(',');
  sub.add_option("--heads", a->options.heads, "attention methods: only these heads of each layer")->delimiter(',');
  sub.add_flag("--per-head", a->per_head, "attention methods: the correlation of each head and layer");
  sub.add_flag("--no-controls", a->no_controls, "skip the untrained-model and shuffled-residue controls (3x faster)");
  sub.add_option("--seed", a->options.seed, "masks (substitution) and shuffles")->capture_default_str();
  sub.add_option("--top", a->top, "most similar pairs listed")->capture_default_str();
  add_device_option(sub, a->device);
  sub.footer(
      "Methods (each a symmetric 20 x 20 matrix, compared with --matrix over the 190 off-diagonal pairs):\n"
      "  attention          log2 of (the share of attention residues of type a give to type b) over (b's share\n"
      "                     of residues), symmetrised, summed over layers and heads (the Performer paper's figure)\n"
      "  attention-profile  for each head, the share of its attention that goes to each type; two types are as\n"
      "                     similar as the correlation of their shares across heads (Vig et al., ICLR 2021)\n"
      "  substitution       where the true residue is a, the model's probability of b (masked, or next token for\n"
      "                     ar models) over b's frequency, log2, symmetrised: a substitution matrix learned the\n"
      "                     way BLOSUM was counted\n"
      "  embedding          cosine similarity of the input token embeddings, centred (no sequences)\n"
      "Controls, printed beside the result: the untrained model of the same config (its seeded initialisation)\n"
      "and the trained model on the same sequences with each one's residues shuffled. The attention methods\n"
      "use one-hot residue types as the values and form no L x L matrix, unless --exclude-near or\n"
      "--min-attention asks for single weights.");
  sub.callback([a, &global] {
    apply_global_options(global);
    run_similarity(*a);
  });
}

}  // namespace performer::cli
