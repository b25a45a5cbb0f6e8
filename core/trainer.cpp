#include "core/trainer.h"

#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adamw.h>

#include <chrono>
#include <cmath>

#include "core/errors.h"
#include "core/muon.h"
#include "core/tokens.h"

namespace performer::core {
namespace {

constexpr double kPi = 3.14159265358979323846;

TokenBatch to_device(const TokenBatch& b, const torch::Device& device) {
  if (device.is_cpu()) return b;
  return {b.tokens.to(device), b.targets.to(device), b.padding.to(device), b.target_count};
}

// What a rank without a batch of its own trains on at the end of an epoch, weighted 0: it still runs
// the forward and backward, so that every rank counts the same calls (projection redraws) and
// contributes (zero) gradients to the all-reduce.
TokenBatch placeholder_batch() {
  TokenBatch b;
  b.tokens = torch::tensor({{int64_t{SpecialTokens::cls}, int64_t{SpecialTokens::count}, int64_t{SpecialTokens::eos}}});
  b.targets = torch::tensor({{int64_t{kIgnoreIndex}, int64_t{SpecialTokens::count}, int64_t{kIgnoreIndex}}});
  b.padding = torch::zeros({1, 3}, torch::kBool);
  b.target_count = 0;
  return b;
}

}  // namespace

double learning_rate_at(const TrainOptions& o, int64_t step, double seconds) {
  if (o.warmup_steps > 0 && step < o.warmup_steps) return o.learning_rate * (step + 1) / o.warmup_steps;
  const double span = std::max<int64_t>(1, o.max_steps - o.warmup_steps);
  double progress = std::min(1.0, (step - o.warmup_steps) / span);
  if (o.schedule_by_time && o.max_seconds > 0) progress = std::max(progress, std::min(1.0, seconds / o.max_seconds));
  return o.learning_rate * 0.5 * (1.0 + std::cos(kPi * progress));
}

EvalResult evaluate(ProteinLM& model, BatchSource& source, int64_t max_batches, const torch::Device& device) {
  const bool was_training = model->is_training();
  model->eval();
  torch::NoGradGuard no_grad;
  double loss_sum = 0;
  int64_t tokens = 0, correct = 0, batches = 0;
  TokenBatch batch;
  while ((max_batches <= 0 || batches < max_batches) && source.next(batch)) {
    ++batches;
    TokenBatch b = to_device(batch, device);
    LossResult r = model->loss(b.tokens, b.padding, b.targets);
    if (r.targets == 0) continue;
    loss_sum += r.loss.item<double>() * r.targets;
    tokens += r.targets;
    correct += r.correct;
  }
  if (was_training) model->train();
  EvalResult e;
  e.tokens = tokens;
  e.loss = tokens ? loss_sum / tokens : std::nan("");
  e.perplexity = std::exp(e.loss);
  e.accuracy = tokens ? static_cast<double>(correct) / tokens : std::nan("");
  return e;
}

int64_t rank_share(int64_t max_batches, int64_t rank, int64_t world) {
  if (max_batches <= 0) return 0;
  return max_batches / world + (rank < max_batches % world ? 1 : 0);
}

Trainer::Trainer(ProteinLM model, TrainOptions options, BatchSourceFactory train, BatchSourceFactory valid)
    : model_(std::move(model)), options_(std::move(options)), train_(std::move(train)), valid_(std::move(valid)),
      device_(options_.device) {
  require_config(options_.max_steps > 0, "max_steps must be positive");
  require_config(options_.accumulation > 0, "accumulation must be positive");
  require_config(!options_.schedule_by_time || options_.max_seconds > 0,
                 "a schedule by time needs a time limit (max_seconds)");
  model_->to(device_);
  require_config(!distributed() || device_.is_cpu(),
                 "multi-process training runs on CPU tensors (Gloo); this build has no NCCL for CUDA");
  // Projections are redrawn every redraw_interval optimiser steps: each step runs `accumulation`
  // training forward calls, which is what the attention modules count.
  for (const auto& block : *model_->blocks) {
    auto& attention = block->as<TransformerBlock>()->attention;
    attention->options.redraw_interval(model_->config.redraw_interval * options_.accumulation);
  }
  if (options_.optimizer == OptimizerKind::adamw) {
    optimizer_ = std::make_unique<torch::optim::AdamW>(
        model_->parameters(), torch::optim::AdamWOptions(options_.learning_rate)
                                  .betas({options_.beta1, options_.beta2})
                                  .weight_decay(options_.weight_decay));
  } else {
    // The blocks' weight matrices take Muon; the fused q/k/v projection is three matrices.
    std::vector<MuonMatrix> matrices;
    std::vector<at::Tensor> others;
    for (const auto& p : model_->named_parameters()) {
      const std::string& name = p.key();
      if (name.starts_with("blocks.") && p.value().dim() == 2) {
        matrices.push_back({p.value(), name.ends_with("in_proj.weight") ? 3 : 1});
      } else {
        others.push_back(p.value());
      }
    }
    MuonOptions m;
    m.learning_rate = options_.learning_rate;
    m.momentum = options_.muon_momentum;
    m.weight_decay = options_.weight_decay;
    m.beta1 = options_.beta1;
    m.beta2 = options_.beta2;
    m.dtype = model_->config.dense_dtype();  // mixed precision: the iteration's products in bf16 too
    optimizer_ = std::make_unique<Muon>(std::move(matrices), std::move(others), m);
  }
}

void Trainer::resume(const std::string& checkpoint) {
  Checkpoint c = load_checkpoint(checkpoint, model_->config.vocabulary, device_);
  torch::NoGradGuard no_grad;
  auto params = model_->named_parameters(), saved = c.model->named_parameters();
  for (const auto& p : params) p.value().copy_(saved[p.key()]);
  auto buffers = model_->named_buffers(), saved_buffers = c.model->named_buffers();
  for (const auto& b : buffers) b.value().copy_(saved_buffers[b.key()]);
  load_optimizer(checkpoint, *optimizer_, device_);
  state_ = c.state;
}

void Trainer::checkpoint(const std::function<void(const TrainEvent&)>& on_event) {
  if (options_.checkpoint.empty()) return;
  if (distributed()) {
    // Rank 0 writes; the others wait until the file is complete (a barrier after the write).
    if (options_.communicator->rank() == 0) save_checkpoint(options_.checkpoint, model_, state_, optimizer_.get());
    options_.communicator->barrier();
  } else {
    save_checkpoint(options_.checkpoint, model_, state_, optimizer_.get());
  }
  if (on_event) {
    TrainEvent e;
    e.kind = TrainEvent::Kind::checkpoint;
    e.step = state_.step;
    e.max_steps = options_.max_steps;
    e.path = options_.checkpoint;
    on_event(e);
  }
}

TrainState Trainer::run(const std::function<void(const TrainEvent&)>& on_event) {
  using clock = std::chrono::steady_clock;
  model_->train();
  const auto start = clock::now();
  const double seconds_before = state_.seconds;
  auto elapsed = [&] { return std::chrono::duration<double>(clock::now() - start).count(); };

  // The attention modules count their training calls to place redraws at the first call of a step.
  // A run resumed with another --accumulation (or on another number of ranks, each with its own)
  // makes another number of calls per step: the count restarts from the step, so the redraws stay at
  // the same steps (and draw_count, from the checkpoint, gives the same projections).
  {
    torch::NoGradGuard no_grad;
    for (const auto& block : *model_->blocks) {
      block->as<TransformerBlock>()->attention->training_calls.fill_(state_.step * options_.accumulation);
    }
  }
  Communicator* comm = options_.communicator;
  const bool dist = distributed();
  std::unique_ptr<GradientSync> sync;
  if (dist) {
    // The same start everywhere: rank 0's parameters and buffers (projections, counters).
    torch::NoGradGuard no_grad;
    std::vector<at::Tensor> tensors;
    for (const auto& p : model_->parameters()) tensors.push_back(p.detach());
    for (const auto& b : model_->buffers()) tensors.push_back(b.detach());
    comm->broadcast(tensors, 0);
    sync = std::make_unique<GradientSync>(*comm, model_->parameters(), options_.bucket_bytes);
  }

  // Re-open the current pass and skip what the resumed run had consumed: the sources are
  // deterministic. With several ranks the position counts the batches of all of them (the
  // sources' global stream), so a run resumes on any number of ranks.
  std::unique_ptr<BatchSource> source = train_(state_.epoch);
  source->skip(state_.batches_in_epoch);
  // The next micro-batch; false when this rank has none left in an epoch that others go on with
  // (it then trains on a placeholder weighted 0). An epoch ends for all ranks together.
  auto next_batch = [&](TokenBatch& out) -> bool {
    while (true) {
      const bool have = source->next(out);
      const bool anyone = dist ? comm->sum({have ? 1.0 : 0.0})[0] > 0 : have;
      if (anyone) {
        state_.batches_in_epoch += dist ? comm->world() : 1;
        if (!have) out = placeholder_batch();
        return have;
      }
      if (state_.batches_in_epoch == 0) throw InputError("the training data yields no batch");
      ++state_.epoch;
      state_.batches_in_epoch = 0;
      source = train_(state_.epoch);
    }
  };

  double loss_sum = 0;
  int64_t loss_tokens = 0, window_tokens = 0;
  double window_start = 0;
  auto emit_eval = [&] {
    if (!valid_ || (!on_event && !dist)) return;
    auto valid = valid_(0);
    TrainEvent e;
    e.kind = TrainEvent::Kind::eval;
    e.step = state_.step;
    e.max_steps = options_.max_steps;
    if (dist) {
      // Each rank evaluates its part (its source is the rank's share); sums make one result.
      const int64_t share = rank_share(options_.eval_batches, comm->rank(), comm->world());
      EvalResult mine;
      if (options_.eval_batches <= 0 || share > 0) mine = evaluate(model_, *valid, share, device_);
      const bool any = mine.tokens > 0;
      const auto s = comm->sum({any ? mine.loss * mine.tokens : 0.0, any ? mine.accuracy * mine.tokens : 0.0,
                                static_cast<double>(mine.tokens)});
      e.eval.tokens = static_cast<int64_t>(s[2]);
      e.eval.loss = s[2] > 0 ? s[0] / s[2] : std::nan("");
      e.eval.perplexity = std::exp(e.eval.loss);
      e.eval.accuracy = s[2] > 0 ? s[1] / s[2] : std::nan("");
    } else {
      e.eval = evaluate(model_, *valid, options_.eval_batches, device_);
    }
    e.seconds = state_.seconds;
    e.tokens = state_.tokens;
    state_.best_valid_loss = std::min(state_.best_valid_loss, e.eval.loss);
    on_event(e);
  };

  int64_t checkpointed_at = -1;  // step of this run's last checkpoint
  if (options_.eval_at_start && state_.step == 0) emit_eval();
  while (state_.step < options_.max_steps) {
    // By time, the limit counts the whole run (resumes included), as the schedule does.
    state_.seconds = seconds_before + elapsed();
    const double seconds = state_.seconds;
    bool stop = (options_.max_seconds > 0 && (options_.schedule_by_time ? seconds : elapsed()) >= options_.max_seconds) ||
                (options_.stop_at_step > 0 && state_.step >= options_.stop_at_step);
    if (dist) stop = comm->sum({stop ? 1.0 : 0.0})[0] > 0;  // clocks differ: all stop when one does
    if (stop) break;
    const auto step_start = clock::now();
    const double lr = learning_rate_at(options_, state_.step, seconds);
    for (auto& group : optimizer_->param_groups()) {
      static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
    }
    optimizer_->zero_grad();
    // Accumulated batches are weighted by their labelled tokens, so the step is the mean over tokens.
    std::vector<TokenBatch> micro(options_.accumulation);
    std::vector<char> real(micro.size());
    int64_t step_tokens = 0, input_tokens = 0;  // labelled positions; non-padding positions
    for (size_t j = 0; j < micro.size(); ++j) {
      real[j] = next_batch(micro[j]);
      if (!real[j]) continue;
      step_tokens += micro[j].target_count;
      input_tokens += micro[j].padding.numel() - micro[j].padding.sum().item<int64_t>();
    }
    // The step's mean is over the labelled tokens of every rank's micro-batches.
    const double all_tokens = dist ? comm->sum({static_cast<double>(step_tokens)})[0] : static_cast<double>(step_tokens);
    auto not_finite = [&](double value) {
      return TrainingError("the training loss became " + std::to_string(value) + " at step " +
                               std::to_string(state_.step + 1) +
                               (options_.checkpoint.empty() ? std::string()
                                                            : "; the last checkpoint, '" + options_.checkpoint +
                                                                  "', was left as it was"),
                           "learning_rate");
    };
    double step_loss = 0;
    bool finite = true;
    for (size_t j = 0; j < micro.size(); ++j) {
      TokenBatch b = to_device(micro[j], device_);
      if (dist && j + 1 == micro.size()) sync->arm();  // the last backward of the step starts the all-reduce
      LossResult r = model_->loss(b.tokens, b.padding, b.targets);
      const double value = r.loss.item<double>();
      if (!std::isfinite(value)) {
        if (!dist) throw not_finite(value);
        finite = false;  // told to every rank below, so that all stop together
        continue;
      }
      const double weight = real[j] ? static_cast<double>(r.targets) / std::max(1.0, all_tokens) : 0.0;
      (r.loss * weight).backward();
      if (real[j]) step_loss += value * r.targets;
    }
    TrainEvent comm_stats;
    if (dist) {
      sync->finish();
      const auto s = comm->sum({step_loss, static_cast<double>(input_tokens), finite ? 0.0 : 1.0});
      if (s[2] > 0) throw not_finite(std::nan(""));
      step_loss = s[0];
      input_tokens = static_cast<int64_t>(s[1]);
      step_tokens = static_cast<int64_t>(all_tokens);
      const auto& st = sync->last();
      comm_stats.world = comm->world();
      comm_stats.allreduce_bytes = st.bytes;
      comm_stats.buckets = st.buckets;
      comm_stats.early_buckets = st.early_buckets;
      comm_stats.allreduce_wait_ms = st.wait_ms;
    }
    const double grad_norm = options_.clip_norm > 0
                                 ? torch::nn::utils::clip_grad_norm_(model_->parameters(), options_.clip_norm)
                                 : 0.0;
    optimizer_->step();
    ++state_.step;
    state_.tokens += input_tokens;
    loss_sum += step_loss;
    loss_tokens += step_tokens;
    window_tokens += input_tokens;
    state_.seconds = seconds_before + elapsed();

    if (on_event && (state_.step % options_.log_every == 0 || state_.step == options_.max_steps)) {
      TrainEvent e;
      e.kind = TrainEvent::Kind::step;
      e.step = state_.step;
      e.max_steps = options_.max_steps;
      e.loss = loss_tokens ? loss_sum / loss_tokens : 0;
      e.learning_rate = lr;
      e.grad_norm = grad_norm;
      const double now = elapsed();
      e.tokens_per_second = now > window_start ? window_tokens / (now - window_start) : 0;
      e.tokens = state_.tokens;
      e.targets = loss_tokens;
      e.seconds = state_.seconds;
      e.world = comm_stats.world;
      e.allreduce_bytes = comm_stats.allreduce_bytes;
      e.buckets = comm_stats.buckets;
      e.early_buckets = comm_stats.early_buckets;
      e.allreduce_wait_ms = comm_stats.allreduce_wait_ms;
      e.step_ms = std::chrono::duration<double, std::milli>(clock::now() - step_start).count();
      on_event(e);
      loss_sum = 0;
      loss_tokens = window_tokens = 0;
      window_start = now;
    }
    if (options_.eval_every > 0 && state_.step % options_.eval_every == 0) emit_eval();
    if (options_.checkpoint_every > 0 && state_.step % options_.checkpoint_every == 0) {
      checkpoint(on_event);
      checkpointed_at = state_.step;
    }
  }
  const bool final_eval = options_.eval_every <= 0 || state_.step % options_.eval_every != 0;
  if (final_eval) emit_eval();
  // Not twice at the same step, unless an evaluation since changed what the checkpoint holds.
  if (checkpointed_at != state_.step || final_eval) checkpoint(on_event);
  if (on_event) {
    TrainEvent e;
    e.kind = TrainEvent::Kind::done;
    e.step = state_.step;
    e.max_steps = options_.max_steps;
    e.tokens = state_.tokens;
    e.seconds = state_.seconds;
    on_event(e);
  }
  return state_;
}

}  // namespace performer::core
