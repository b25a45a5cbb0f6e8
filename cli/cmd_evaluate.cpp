// performer evaluate: held-out loss, perplexity and accuracy of a model on a FASTA file.
#include <cmath>
#include <cstdio>
#include <memory>

#include "bio/dataset.h"
#include "bio/prepared.h"
#include "core/errors.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "cli/model_io.h"
#include "core/trainer.h"
#include "io/file.h"
#include "io/json.h"

namespace performer::cli {
namespace {

struct EvaluateArgs {
  std::string model, fasta, device = "cpu", precision, split = "valid";
  bio::UnknownPolicy unknown = bio::UnknownPolicy::x;
  int64_t max_length = 0, tokens_per_batch = 16384, draws = 1;
  uint64_t seed = 0;
  bool split_given = false, unknown_given = false;
};

void run_evaluate(const EvaluateArgs& a) {
  core::Checkpoint c = load_model(a.model, a.device);
  if (!a.precision.empty()) c.model->set_precision(core::parse_name<core::Precision>(a.precision, "precision"));
  bio::ReadOptions read;
  read.unknown = a.unknown;
  bio::LoaderOptions loader;
  loader.objective = c.config.causal() ? bio::Objective::ar : bio::Objective::mlm;
  loader.max_length = a.max_length > 0 ? a.max_length : c.config.max_length;
  loader.tokens_per_batch = std::max(a.tokens_per_batch, loader.max_length);
  loader.shuffle = false;
  loader.seed = a.seed;
  // Draw j masks (and crops) the file with stream j of the seed: draw 0 is the single pass of --draws 1.
  // Targets of every draw are pooled, so the loss is a mean over all of them.
  // A prepared folder: one of its splits (valid unless --split says otherwise).
  const bio::Split split = bio::parse_split(a.split);
  std::shared_ptr<const bio::PreparedData> prepared;
  if (bio::is_prepared(a.fasta)) {
    if (a.unknown_given) throw ConfigError("--unknown applies to FASTA input; '" + a.fasta + "' was encoded when it was prepared");
    prepared = std::make_shared<const bio::PreparedData>(a.fasta);
    if (prepared->sequences(split) == 0) {
      throw InputError("'" + a.fasta + "' has no sequences in its " + a.split + " split");
    }
  }
  if (!prepared && a.split_given) throw ConfigError("--split applies to a prepared folder, not to FASTA '" + a.fasta + "'");
  double loss_sum = 0, correct = 0;
  int64_t tokens = 0;
  unsigned long long sequences = 0;
  io::Json per_draw = io::Json::array();
  for (int64_t j = 0; j < a.draws; ++j) {
    core::EvalResult e;
    if (prepared) {
      bio::PreparedLoader source(prepared, split, loader, static_cast<uint64_t>(j));
      e = core::evaluate(c.model, source, 0, torch::Device(a.device));
      sequences = prepared->sequences(split);
    } else {
      bio::BatchLoader source(a.fasta, read, loader, static_cast<uint64_t>(j));
      e = core::evaluate(c.model, source, 0, torch::Device(a.device));
      sequences = static_cast<unsigned long long>(source.counts().kept);
    }
    loss_sum += e.loss * static_cast<double>(e.tokens);
    correct += e.accuracy * static_cast<double>(e.tokens);
    tokens += e.tokens;
    per_draw.push_back(io::rounded(e.perplexity, 6));
  }
  const double loss = tokens > 0 ? loss_sum / static_cast<double>(tokens) : 0;
  io::Json json = {{"model", a.model},
                   {"data", a.fasta},
                   {"objective", core::to_string(c.config.objective)},
                   {"sequences", sequences},
                   {"tokens", tokens},
                   {"loss", io::rounded(loss)},
                   {"perplexity", io::rounded(std::exp(loss), 6)},
                   {"accuracy", io::rounded(tokens > 0 ? correct / static_cast<double>(tokens) : 0.0, 6)},
                   {"precision", core::to_string(c.model->config.precision)}};
  if (prepared) json["split"] = a.split;
  if (a.draws > 1) {
    json["draws"] = a.draws;
    json["draw_perplexities"] = per_draw;
  }
  io::write_file("-", io::to_line(json) + "\n");
}

}  // namespace

void setup_evaluate(CLI::App& sub, const GlobalOptions& global) {
  auto a = std::make_shared<EvaluateArgs>();
  sub.add_option("model", a->model, "checkpoint written by performer train")->required();
  sub.add_option("fasta", a->fasta, "sequences (FASTA, plain/gzip/bzip2, or - for stdin), or a prepared folder")
      ->required();
  auto* split = sub.add_option("--split", a->split, "split of a prepared folder")
      ->check(CLI::IsMember({"train", "valid", "test"}))->capture_default_str();
  non_negative(sub.add_option("--max-length", a->max_length, "crop length in tokens (default: the model's training length)"));
  positive(sub.add_option("--tokens-per-batch", a->tokens_per_batch, "batch size in tokens"))->capture_default_str();
  auto* unknown = add_unknown_option(sub, a->unknown);
  sub.add_option("--seed", a->seed, "seed of crops and masks")->capture_default_str();
  sub.add_option("--draws", a->draws, "passes with other masks and crops, their targets pooled")
      ->check(CLI::PositiveNumber)->capture_default_str();
  add_precision_option(sub, a->precision, "products of the dense layers and FAVOR (default: the model's)");
  add_device_option(sub, a->device);
  sub.footer("Masked models are evaluated on 15% masked residues (seeded), autoregressive ones on every next token,\n"
             "as in training. With --draws K, K passes draw other masks (and crops of long sequences) and pool\n"
             "their targets, which shrinks the sampling noise of a single draw of masks.\n"
             "Prints one JSON object.");
  sub.callback([a, &global, split, unknown] {
    apply_global_options(global);
    a->split_given = split->count() > 0;
    a->unknown_given = unknown->count() > 0;
    run_evaluate(*a);
  });
}

}  // namespace performer::cli
