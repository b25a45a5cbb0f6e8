// performer evaluate: held-out loss, perplexity and accuracy of a model on a FASTA file.
#include <cmath>
#include <cstdio>
#include <memory>

#include "bio/dataset.h"
#include "cli/commands.h"
#include "cli/model_io.h"
#include "core/trainer.h"

namespace performer::cli {
namespace {

struct EvaluateArgs {
  std::string model, fasta, unknown = "x", device = "cpu", precision;
  int64_t max_length = 0, tokens_per_batch = 16384, draws = 1;
  uint64_t seed = 0;
};

void run_evaluate(const EvaluateArgs& a) {
  core::Checkpoint c = load_model(a.model, a.device);
  if (!a.precision.empty()) c.model->set_precision(a.precision);
  bio::ReadOptions read;
  read.unknown = bio::parse_unknown_policy(a.unknown);
  bio::LoaderOptions loader;
  loader.objective = c.config.causal() ? bio::Objective::ar : bio::Objective::mlm;
  loader.max_length = a.max_length > 0 ? a.max_length : c.config.max_length;
  loader.tokens_per_batch = std::max(a.tokens_per_batch, loader.max_length);
  loader.shuffle = false;
  loader.seed = a.seed;
  // Draw j masks (and crops) the file with stream j of the seed: draw 0 is the single pass of --draws 1.
  // Targets of every draw are pooled, so the loss is a mean over all of them.
  double loss_sum = 0, correct = 0;
  int64_t tokens = 0;
  unsigned long long sequences = 0;
  std::string per_draw;
  for (int64_t j = 0; j < a.draws; ++j) {
    bio::BatchLoader source(a.fasta, read, loader, static_cast<uint64_t>(j));
    const core::EvalResult e = core::evaluate(c.model, source, 0, torch::Device(a.device));
    loss_sum += e.loss * static_cast<double>(e.tokens);
    correct += e.accuracy * static_cast<double>(e.tokens);
    tokens += e.tokens;
    sequences = static_cast<unsigned long long>(source.counts().kept);
    char one[32];
    std::snprintf(one, sizeof one, "%s%.4f", j ? ", " : "", e.perplexity);
    per_draw += one;
  }
  const double loss = tokens > 0 ? loss_sum / static_cast<double>(tokens) : 0;
  std::printf("{\"model\": \"%s\", \"data\": \"%s\", \"objective\": \"%s\", \"sequences\": %llu, \"tokens\": %lld, "
              "\"loss\": %.6f, \"perplexity\": %.4f, \"accuracy\": %.5f, \"precision\": \"%s\"",
              a.model.c_str(), a.fasta.c_str(), c.config.objective.c_str(), sequences, static_cast<long long>(tokens),
              loss, std::exp(loss), tokens > 0 ? correct / static_cast<double>(tokens) : 0.0,
              c.model->config.precision.c_str());
  if (a.draws > 1) std::printf(", \"draws\": %lld, \"draw_perplexities\": [%s]", static_cast<long long>(a.draws), per_draw.c_str());
  std::printf("}\n");
}

}  // namespace

void setup_evaluate(CLI::App& sub, const GlobalOptions& global) {
  auto a = std::make_shared<EvaluateArgs>();
  sub.add_option("model", a->model, "checkpoint written by performer train")->required();
  sub.add_option("fasta", a->fasta, "sequences (FASTA, plain/gzip/bzip2, or - for stdin)")->required();
  sub.add_option("--max-length", a->max_length, "crop length in tokens (default: the model's training length)");
  sub.add_option("--tokens-per-batch", a->tokens_per_batch, "batch size in tokens")->capture_default_str();
  sub.add_option("--unknown", a->unknown, "characters that are not residues: x, skip or error")
      ->check(CLI::IsMember({"x", "skip", "error"}))->capture_default_str();
  sub.add_option("--seed", a->seed, "seed of crops and masks")->capture_default_str();
  sub.add_option("--draws", a->draws, "passes with other masks and crops, their targets pooled")
      ->check(CLI::PositiveNumber)->capture_default_str();
  sub.add_option("--precision", a->precision, "products of the dense layers and FAVOR: fp32 or bf16 (default: the model's)")
      ->check(CLI::IsMember({"fp32", "bf16"}));
  sub.add_option("--device", a->device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();
  sub.footer("Masked models are evaluated on 15% masked residues (seeded), autoregressive ones on every next token,\n"
             "as in training. With --draws K, K passes draw other masks (and crops of long sequences) and pool\n"
             "their targets, which shrinks the sampling noise of a single draw of masks.\n"
             "Prints one JSON object.");
  sub.callback([a, &global] {
    apply_global_options(global);
    run_evaluate(*a);
  });
}

}  // namespace performer::cli
