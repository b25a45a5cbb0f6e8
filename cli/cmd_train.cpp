// performer train: train a protein language model (masked or autoregressive) on FASTA files.
#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "bio/dataset.h"
#include "bio/prepared.h"
#include "bio/vocabulary.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "cli/progress.h"
#include "core/checkpoint.h"
#include "core/distributed.h"
#include "core/errors.h"
#include "core/trainer.h"
#include "io/file.h"
#include "io/json.h"

namespace performer::cli {
namespace {

struct TrainArgs {
  std::string data, valid, out = "model.pt", log, resume, init_from;
  std::string preset = "small", positions, projection, activation, precision;
  core::Objective objective = core::Objective::mlm;
  core::AttentionKind attention = core::AttentionKind::favor_relu;
  int64_t layers = 0, d_model = 0, heads = 0, d_ff = 0, features = 0, max_length = 0;
  int64_t redraw_interval = -1, concat_length = 0, tokens_per_batch = 16384;
  std::string max_time, schedule = "steps";
  bio::UnknownPolicy unknown = bio::UnknownPolicy::x;
  bio::SplitOptions split;
  int64_t min_length = 1;
  double mask_fraction = bio::MaskingOptions{}.fraction;  // training batches only; evaluation keeps 15%
  bool swissprot_only = false;
  bool recompute_features = false;
  bool force = false;
  uint64_t seed = 0;
  core::TrainOptions train;
  std::vector<std::string> fasta_only_given;  // options given that only apply to FASTA --data
  double dist_timeout = 300;  // seconds a collective waits for the other processes
  bool auto_resume = false;
};

// "90", "90s", "30m", "2h" -> seconds.
double parse_duration(const std::string& text) {
  if (text.empty()) return 0;
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    throw ConfigError("--max-time: expected e.g. 90s, 30m or 2h, got '" + text + "'");
  }
  const std::string unit = text.substr(used);
  if (unit.empty() || unit == "s") return value;
  if (unit == "m") return value * 60;
  if (unit == "h") return value * 3600;
  throw ConfigError("--max-time: expected e.g. 90s, 30m or 2h, got '" + text + "'");
}

core::ModelConfig model_config(const TrainArgs& a) {
  core::ModelConfig c = core::preset_config(a.preset);
  c.objective = a.objective;
  c.attention = a.attention;
  if (a.layers) c.layers = a.layers;
  if (a.d_model) c.d_model = a.d_model;
  if (a.heads) c.heads = a.heads;
  if (a.d_ff) c.d_ff = a.d_ff;
  if (!a.activation.empty()) c.activation = core::parse_name<core::Activation>(a.activation, "activation");
  if (!a.precision.empty()) c.precision = core::parse_name<core::Precision>(a.precision, "precision");
  if (a.features) c.features = a.features;
  if (a.max_length) c.max_length = a.max_length;
  if (a.concat_length) c.max_length = a.concat_length;
  if (!a.positions.empty()) c.positions = core::parse_name<core::Positions>(a.positions, "positions");
  if (!a.projection.empty()) c.projection = core::parse_projection_kind(a.projection);
  if (a.redraw_interval >= 0) c.redraw_interval = a.redraw_interval;
  c.seed = a.seed;
  c.vocab_size = bio::Vocabulary::kSize;
  c.vocabulary = std::string(bio::Vocabulary::kVersion);
  c.validate();
  return c;
}

// One line of the training log (JSON lines): numbers rounded to what the log needs, a value that is
// not finite (no validation tokens) written as null.
std::string event_json(const core::TrainEvent& e) {
  using K = core::TrainEvent::Kind;
  io::Json j;
  switch (e.kind) {
    case K::step:
      j = {{"event", "step"}, {"step", e.step}, {"loss", io::rounded(e.loss)}, {"lr", io::rounded(e.learning_rate, 6)},
           {"grad_norm", io::rounded(e.grad_norm, 6)}, {"tokens_per_second", io::rounded(e.tokens_per_second, 6)},
           {"tokens", e.tokens}, {"targets", e.targets}, {"seconds", io::rounded(e.seconds, 6)}};
      if (e.world > 1) {
        j["world"] = e.world;
        j["allreduce_bytes"] = e.allreduce_bytes;
        j["buckets"] = e.buckets;
        j["early_buckets"] = e.early_buckets;
        j["allreduce_wait_ms"] = io::rounded(e.allreduce_wait_ms, 4);
        j["step_ms"] = io::rounded(e.step_ms, 5);
      }
      break;
    case K::eval:
      j = {{"event", "eval"}, {"step", e.step}, {"valid_loss", io::rounded(e.eval.loss)},
           {"valid_perplexity", io::rounded(e.eval.perplexity)}, {"valid_accuracy", io::rounded(e.eval.accuracy, 6)},
           {"valid_tokens", e.eval.tokens}, {"tokens", e.tokens}, {"seconds", io::rounded(e.seconds, 6)}};
      break;
    case K::checkpoint:
      j = {{"event", "checkpoint"}, {"step", e.step}, {"path", e.path}};
      break;
    case K::done:
      j = {{"event", "done"}, {"step", e.step}, {"tokens", e.tokens}, {"seconds", io::rounded(e.seconds, 6)}};
      break;
  }
  return io::to_line(j);
}

// Training events on the progress display: steps move the bar (by steps, or by the clock when the
// schedule runs by time), evaluations and the end get lines of their own.
class TrainProgress {
 public:
  TrainProgress(int64_t max_steps, double time_budget)
      : display_("step", "", time_budget > 0 ? 0 : static_cast<double>(max_steps), 0), budget_(time_budget) {
    display_.set_time_budget(time_budget);
  }
  void operator()(const core::TrainEvent& e) {
    using K = core::TrainEvent::Kind;
    char line[256];
    if (e.kind == K::step) {
      const double by_steps = static_cast<double>(e.step) / std::max<int64_t>(1, e.max_steps);
      const double done = budget_ > 0 ? std::max(by_steps, std::min(1.0, e.seconds / budget_)) : by_steps;
      std::snprintf(line, sizeof line, "loss %.4f  lr %.2e  %.0f tok/s", e.loss, e.learning_rate, e.tokens_per_second);
      display_.update(static_cast<double>(e.step), line, done);
    } else if (e.kind == K::eval) {
      std::snprintf(line, sizeof line, "eval step %lld: valid loss %.4f  perplexity %.3f  accuracy %.2f%%",
                    static_cast<long long>(e.step), e.eval.loss, e.eval.perplexity, 100 * e.eval.accuracy);
      display_.message(line);
    } else if (e.kind == K::checkpoint) {
      if (!display_.terminal()) {
        display_.message("checkpoint step " + std::to_string(e.step) + ": " + e.path);
      }
    } else {
      display_.finish("done: " + std::to_string(e.step) + " steps, " + std::to_string(e.tokens) + " tokens, " +
                      Progress::clock(e.seconds));
    }
  }

 private:
  Progress display_;
  double budget_;
};

// Whether path holds a training log (its first line a JSON object with an "event"), or nothing.
bool empty_or_training_log(const std::string& path) {
  std::ifstream in(path);
  std::string first;
  if (!in || !std::getline(in, first)) return true;
  if (!io::Json::accept(first)) return false;
  const io::Json json = io::Json::parse(first);
  return json.is_object() && json.contains("event");
}

// A process killed while it wrote the log may leave a torn last line: a resumed run cuts it off
// (and says so) before it appends, so that every line of the log stays one JSON object.
void drop_torn_last_line(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec || size == 0) return;
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.back() == '\n') return;
  const size_t keep = text.find_last_of('\n') == std::string::npos ? 0 : text.find_last_of('\n') + 1;
  std::filesystem::resize_file(path, keep, ec);
  if (ec) throw InputError("cannot repair log '" + path + "': " + ec.message());
  std::cerr << "note: dropped a torn last line of " << path << " (" << text.size() - keep << " bytes)\n";
}

void run_train(TrainArgs& a) {
  // A restarted job (torchrun --max_restarts, a requeued Slurm job) runs the same command line again:
  // it continues from its own checkpoint when there is one.
  if (a.auto_resume && a.resume.empty() && std::filesystem::exists(a.out)) {
    a.resume = a.out;
    a.init_from.clear();
  }
  // Training reads its data more than once (every epoch and each evaluation): a pipe would be empty
  // the second time, after the training it would have cost.
  if (a.data == "-" || a.valid == "-") {
    throw ConfigError("--data and --valid need files: training reads them more than once, standard input only once");
  }
  refuse_overwriting("--out", a.out, {a.data, a.valid, a.init_from, a.log});
  refuse_overwriting("--log", a.log, {a.data, a.valid, a.init_from, a.resume, a.out});
  if (!a.log.empty() && a.resume.empty() && !a.force && !empty_or_training_log(a.log)) {
    throw ConfigError("--log '" + a.log + "' exists and is not a training log: not overwritten (--force replaces it)");
  }
  if (a.train.device == "cuda" && !torch::cuda::is_available()) {
    throw ConfigError("--device cuda: this LibTorch has no CUDA device available");
  }
  a.train.max_seconds = parse_duration(a.max_time);
  a.train.schedule_by_time = a.schedule == "time";
  if (a.train.schedule_by_time && a.train.max_seconds <= 0) {
    throw ConfigError("--schedule time: needs --max-time (the time the cosine decay spans)");
  }
  a.train.checkpoint = a.out;
  core::ModelConfig config;
  core::ProteinLM model{nullptr};
  if (!a.resume.empty()) {
    config = core::load_checkpoint(a.resume, std::string(bio::Vocabulary::kVersion)).config;
    model = core::ProteinLM(config);
  } else if (!a.init_from.empty()) {
    // Transfer: same parameters, the attention kind of this run (e.g. exact -> favor_softmax).
    core::Checkpoint from = core::load_checkpoint(a.init_from, std::string(bio::Vocabulary::kVersion));
    config = from.config;
    model = from.model;
    model->set_attention(a.attention);
    if (!a.precision.empty()) model->set_precision(core::parse_name<core::Precision>(a.precision, "precision"));
    config = model->config;
    a.train.eval_at_start = true;  // the recovery curve starts at step 0
  } else {
    config = model_config(a);
    model = core::ProteinLM(config);
  }
  model->set_keep_features(!a.recompute_features);

  bio::LoaderOptions loader;
  loader.objective = config.causal() ? bio::Objective::ar : bio::Objective::mlm;
  loader.max_length = config.max_length;
  loader.concatenate = a.concat_length > 0;
  loader.tokens_per_batch = std::max(a.tokens_per_batch, config.max_length);
  loader.seed = a.seed;
  bio::LoaderOptions valid_loader = loader;
  valid_loader.shuffle = false;
  loader.masking.fraction = a.mask_fraction;  // validation keeps the default 15%: comparable perplexities

  bio::ReadOptions read;
  read.unknown = a.unknown;
  read.split = a.split;
  read.filter.min_length = a.min_length;
  read.filter.swissprot_only = a.swissprot_only;
  bio::ReadOptions valid_read = read;
  // Several processes (torchrun, Slurm): one process group; each rank reads its own part of the data.
  const core::LaunchEnvironment env = core::launch_environment();
  std::unique_ptr<core::Communicator> communicator;
  if (env.distributed()) {
    if (a.train.device != "cpu") {
      throw ConfigError("--device " + a.train.device + ": multi-process training runs on CPU (Gloo) in this build");
    }
    communicator = std::make_unique<core::Communicator>(env, std::chrono::milliseconds(static_cast<int64_t>(a.dist_timeout * 1000)));
    a.train.communicator = communicator.get();
  }
  const int64_t rank = env.rank, world = env.world;
  const bool main_rank = rank == 0;
  // FASTA is read by every rank, which keeps every world-th batch (prepared folders split themselves).
  auto strided = [rank, world](std::unique_ptr<core::BatchSource> source) -> std::unique_ptr<core::BatchSource> {
    if (world == 1) return source;
    return std::make_unique<core::StridedSource>(std::move(source), rank, world);
  };
  core::BatchSourceFactory train_source, valid_source;
  // Validation from a FASTA file: all of its records.
  auto fasta_valid = [&valid_loader, &valid_read, strided](const std::string& path) -> core::BatchSourceFactory {
    return [path, read = valid_read, valid_loader, strided](int64_t) -> std::unique_ptr<core::BatchSource> {
      return strided(std::make_unique<bio::BatchLoader>(path, read, valid_loader, 0));
    };
  };
  // Validation from a prepared folder: its valid split (none when it is empty).
  auto prepared_valid = [&valid_loader, main_rank, rank, world](std::shared_ptr<const bio::PreparedData> data) -> core::BatchSourceFactory {
    if (data->sequences(bio::Split::valid) == 0) {
      if (main_rank) std::cerr << "note: " << data->path() << " has no validation sequences: no evaluation\n";
      return nullptr;
    }
    return [data, valid_loader, rank, world](int64_t) -> std::unique_ptr<core::BatchSource> {
      return std::make_unique<bio::PreparedLoader>(data, bio::Split::valid, valid_loader, 0, rank, world);
    };
  };
  if (bio::is_prepared(a.data)) {
    if (!a.fasta_only_given.empty()) {
      throw ConfigError(a.fasta_only_given.front() + " applies to FASTA --data; '" + a.data +
                        "' was filtered and split when it was prepared (its manifest.json lists how)");
    }
    auto data = std::make_shared<const bio::PreparedData>(a.data);
    if (data->sequences(bio::Split::train) == 0) throw InputError("'" + a.data + "' has no training sequences");
    train_source = [data, loader, rank, world](int64_t epoch) -> std::unique_ptr<core::BatchSource> {
      return std::make_unique<bio::PreparedLoader>(data, bio::Split::train, loader, static_cast<uint64_t>(epoch), rank,
                                                   world);
    };
    if (a.valid.empty()) valid_source = prepared_valid(data);
  } else {
    read.only = a.valid.empty() ? std::optional(bio::Split::train) : std::nullopt;
    train_source = [data = a.data, read, loader, strided](int64_t epoch) -> std::unique_ptr<core::BatchSource> {
      return strided(std::make_unique<bio::BatchLoader>(data, read, loader, static_cast<uint64_t>(epoch)));
    };
    if (a.valid.empty()) {  // hold out the validation split of --data
      valid_read.only = bio::Split::valid;
      valid_source = fasta_valid(a.data);
    }
  }
  if (!a.valid.empty()) {
    valid_source = bio::is_prepared(a.valid) ? prepared_valid(std::make_shared<const bio::PreparedData>(a.valid))
                                             : fasta_valid(a.valid);
  }

  if (main_rank) std::cerr << "model: " << config.preset << " preset, " << core::to_string(config.objective) << ", " << core::to_string(config.attention)
            << ", " << config.layers << " layers, d " << config.d_model << ", " << config.heads << " heads, "
            << (config.activation == core::Activation::gelu ? "" : core::to_string(config.activation) + ", ")
            << (config.precision == core::Precision::fp32 ? "" : core::to_string(config.precision) + " products, ") << model->parameter_count() << " parameters; " << at::get_num_threads() << " threads, " << a.train.device
            << (a.recompute_features && core::is_favor(config.attention) ? ", features recomputed in the backward" : "")
            << (a.train.optimizer == core::OptimizerKind::muon ? ", Muon + AdamW" : "")
            << (world > 1 ? "; " + std::to_string(world) + " processes (" + env.launcher + ", Gloo)" : std::string()) << "\n";
  core::Trainer trainer(model, a.train, train_source, valid_source);
  if (!a.resume.empty()) {
    trainer.resume(a.resume);
    if (main_rank) std::cerr << "resumed at step " << trainer.state().step << "\n";
  }
  // The log is opened at the first event: a run that fails before it starts leaves the old log as it was.
  std::unique_ptr<std::ofstream> log;
  TrainProgress progress(a.train.max_steps, a.train.schedule_by_time ? a.train.max_seconds : 0);
  trainer.run([&](const core::TrainEvent& e) {
    if (!main_rank) return;  // rank 0 reports and logs for all
    progress(e);
    if (a.log.empty()) return;
    if (!log) {
      if (!a.resume.empty()) drop_torn_last_line(a.log);
      errno = 0;
      log = std::make_unique<std::ofstream>(a.log, a.resume.empty() ? std::ios::trunc : std::ios::app);
      if (!*log) throw InputError("cannot write log '" + a.log + "': " + io::os_reason(errno));
    }
    errno = 0;
    if (!(*log << event_json(e) << "\n" << std::flush)) {
      throw InputError("cannot write log '" + a.log + "': " + io::os_reason(errno));
    }
  });
}

}  // namespace

void setup_train(CLI::App& sub, const GlobalOptions& global) {
  auto a = std::make_shared<TrainArgs>();
  sub.add_option("--data", a->data, "training FASTA (plain, gzip, bzip2) or a folder of `performer data prepare`")
      ->required();
  sub.add_option("--valid", a->valid,
                 "validation FASTA or prepared folder (its valid split); default: the valid split of --data");
  sub.add_option("--out", a->out, "checkpoint to write (atomically, every --checkpoint-every steps and at the end)")
      ->capture_default_str();
  sub.add_option("--log", a->log, "metrics log, one JSON object per line (pandas.read_json(lines=True))");
  sub.add_option("--preset", a->preset, "tiny, small or paper")->check(CLI::IsMember({"tiny", "small", "paper"}))
      ->capture_default_str();
  add_choice(sub, "--objective", a->objective, "mlm (masked, bidirectional) or ar (autoregressive, causal)");
  add_choice(sub, "--attention", a->attention, "attention of every block");
  positive(sub.add_option("--layers", a->layers, "override the preset's layers"));
  positive(sub.add_option("--d-model", a->d_model, "override the preset's width"));
  positive(sub.add_option("--heads", a->heads, "override the preset's heads"));
  positive(sub.add_option("--d-ff", a->d_ff, "override the preset's feed-forward width"));
  add_optional_choice<core::Activation>(sub, "--activation", a->activation,
                                        "feed-forward nonlinearity (the presets': gelu; relu2: squared ReLU)");
  add_precision_option(sub, a->precision,
                       "fp32 (default), or bf16: mixed precision, the dense layers' and FAVOR's products in bfloat16 "
                       "(weights, norms, feature maps, sums and loss in fp32); kept in the checkpoint");
  positive(sub.add_option("--features", a->features, "random features m (favor kinds)"));
  add_optional_choice<core::ProjectionKind>(sub, "--projection", a->projection, "feature projection (default orthogonal)");
  sub.add_flag("--recompute-features", a->recompute_features,
               "favor kinds: recompute the features in the backward instead of keeping them (less memory, slower)");
  non_negative(sub.add_option("--redraw-interval", a->redraw_interval, "steps between projection redraws (0: never)"));
  positive(sub.add_option("--max-length", a->max_length, "training length in tokens; longer sequences are randomly cropped"));
  add_optional_choice<core::Positions>(sub, "--positions", a->positions, "positions (default rotary)");
  sub.add_option("--concat-length", a->concat_length,
                 "pack sequences into windows of this many tokens instead of cropping (e.g. 8192)")
      ->check(CLI::Validator([](std::string& text) {
        const long long n = std::atoll(text.c_str());
        return n == 0 || n >= 3 ? std::string() : "0 (off) or at least 3 (<cls>, a residue, <eos>), got " + text;
      }, "TOKENS"));
  positive(sub.add_option("--tokens-per-batch", a->tokens_per_batch, "batch size in tokens (after padding)"))->capture_default_str();
  positive(sub.add_option("--lr", a->train.learning_rate, "peak learning rate"))->capture_default_str();
  non_negative(sub.add_option("--weight-decay", a->train.weight_decay, "decoupled weight decay"))->capture_default_str();
  add_choice(sub, "--optimizer", a->train.optimizer,
             "adamw, or muon: Muon (orthogonalised momentum) for the blocks' weight matrices, AdamW for "
             "embeddings, norms and biases, at one --lr");
  non_negative(sub.add_option("--muon-momentum", a->train.muon_momentum, "Muon's Nesterov momentum"))->capture_default_str();
  non_negative(sub.add_option("--warmup", a->train.warmup_steps, "warm-up steps"))->capture_default_str();
  positive(sub.add_option("--max-steps", a->train.max_steps, "optimiser steps (the schedule's length)"))->capture_default_str();
  sub.add_option("--max-time", a->max_time, "stop after this much training time: 90s, 30m, 2h")
      ->check(CLI::Validator(
          [](std::string& text) {
            try {
              return parse_duration(text) >= 0 ? std::string() : "must not be negative, got " + text;
            } catch (const Error& e) {
              return "expected e.g. 90s, 30m or 2h, got '" + text + "'";
            }
          },
          "DURATION"));
  sub.add_option("--schedule", a->schedule,
                 "steps: the cosine decay spans --max-steps; time: it spans --max-time of training time "
                 "(resumes included) and ends at 0 when the time is up")
      ->check(CLI::IsMember({"steps", "time"}))->capture_default_str();
  non_negative(sub.add_option("--stop-at", a->train.stop_at_step,
                              "stop this run at this step, the schedule still spanning --max-steps (a long run in "
                              "pieces, each continued with --resume); 0: no stop"));
  positive(sub.add_option("--accumulation", a->train.accumulation, "batches per optimiser step"))->capture_default_str();
  non_negative(sub.add_option("--clip", a->train.clip_norm, "gradient norm clip (0: none)"))->capture_default_str();
  non_negative(sub.add_option("--eval-every", a->train.eval_every, "steps between evaluations"))->capture_default_str();
  non_negative(sub.add_option("--eval-batches", a->train.eval_batches, "batches per evaluation (0: all)"))->capture_default_str();
  non_negative(sub.add_option("--checkpoint-every", a->train.checkpoint_every, "steps between checkpoints"))->capture_default_str();
  positive(sub.add_option("--log-every", a->train.log_every, "steps between progress lines"))->capture_default_str();
  sub.add_option("--mask-fraction", a->mask_fraction,
                 "mlm: share of residues selected for prediction in training batches (80/10/10 as usual); "
                 "evaluation always masks 15%")
      ->check(CLI::Validator(
          [](std::string& s) {
            double f = 0;
            try {
              f = std::stod(s);
            } catch (const std::exception&) {
            }
            return f > 0 && f < 1 ? std::string() : "must be in (0, 1), got " + s;
          },
          "(0, 1)"))
      ->capture_default_str();
  sub.add_option("--seed", a->seed, "seed of initialisation, projections, crops, masking, shuffling")->capture_default_str();
  sub.add_option("--resume", a->resume, "continue the run of this checkpoint (same data and options)");
  sub.add_flag("--auto-resume", a->auto_resume,
               "continue from --out if it exists, else start: for jobs that restart with the same command line "
               "(torchrun --max_restarts, requeued Slurm jobs)");
  sub.add_option("--init-from", a->init_from,
                 "start from this checkpoint's weights with --attention (e.g. exact -> favor_softmax)");
  auto* unknown = add_unknown_option(sub, a->unknown);
  auto* valid_fraction = sub.add_option("--valid-fraction", a->split.valid_fraction, "share of --data held out for validation")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  auto* test_fraction = sub.add_option("--test-fraction", a->split.test_fraction, "share of --data held out for test (never trained on)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  auto* min_length = non_negative(sub.add_option("--min-length", a->min_length, "drop shorter sequences"))->capture_default_str();
  auto* swissprot = sub.add_flag("--swissprot-only", a->swissprot_only, "train on Swiss-Prot (>sp|) records only");
  sub.add_flag("--force", a->force, "replace a --log file that is not a training log");
  add_device_option(sub, a->train.device);
  positive(sub.add_option("--dist-timeout", a->dist_timeout,
                          "several processes: seconds to wait for the others (rendezvous and every collective) "
                          "before ending with an error"))
      ->capture_default_str();
  sub.callback([a, &global, fasta_only = std::vector<CLI::Option*>{unknown, valid_fraction, test_fraction, min_length, swissprot}] {
    apply_global_options(global);
    for (const CLI::Option* o : fasta_only) {
      if (o->count() > 0) a->fasta_only_given.push_back(o->get_name());
    }
    run_train(*a);
  });
}

}  // namespace performer::cli
