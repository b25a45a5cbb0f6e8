// performer evaluate: held-out loss, perplexity and accuracy of a model on a FASTA file.
#include <cstdio>
#include <memory>

#include "bio/dataset.h"
#include "cli/commands.h"
#include "cli/model_io.h"
#include "core/trainer.h"

namespace performer::cli {
namespace {

struct EvaluateArgs {
  std::string model, fasta, unknown = "x", device = "cpu";
  int64_t max_length = 0, tokens_per_batch = 16384;
  uint64_t seed = 0;
};

void run_evaluate(const EvaluateArgs& a) {
  core::Checkpoint c = load_model(a.model, a.device);
  bio::ReadOptions read;
  read.unknown = bio::parse_unknown_policy(a.unknown);
  bio::LoaderOptions loader;
  loader.objective = c.config.causal() ? bio::Objective::ar : bio::Objective::mlm;
  loader.max_length = a.max_length > 0 ? a.max_length : c.config.max_length;
  loader.tokens_per_batch = std::max(a.tokens_per_batch, loader.max_length);
  loader.shuffle = false;
  loader.seed = a.seed;
  bio::BatchLoader source(a.fasta, read, loader);
  const core::EvalResult e = core::evaluate(c.model, source, 0, torch::Device(a.device));
  const auto counts = source.counts();
  std::printf("{\"model\": \"%s\", \"data\": \"%s\", \"objective\": \"%s\", \"sequences\": %llu, \"tokens\": %lld, "
              "\"loss\": %.6f, \"perplexity\": %.4f, \"accuracy\": %.5f}\n",
              a.model.c_str(), a.fasta.c_str(), c.config.objective.c_str(),
              static_cast<unsigned long long>(counts.kept), static_cast<long long>(e.tokens), e.loss, e.perplexity,
              e.accuracy);
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
  sub.add_option("--device", a->device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();
  sub.footer("Masked models are evaluated on 15% masked residues (seeded), autoregressive ones on every next token,\n"
             "as in training. Prints one JSON object.");
  sub.callback([a, &global] {
    apply_global_options(global);
    run_evaluate(*a);
  });
}

}  // namespace performer::cli
