#pragma once
// The training loop: AdamW (or Muon for the hidden matrices) with warmup + cosine decay, gradient
// clipping and accumulation, periodic evaluation and checkpoints, exact resume. It reports through a callback and never prints.
#include <torch/optim/optimizer.h>

#include <functional>
#include <memory>
#include <string>

#include "core/batch.h"
#include "core/checkpoint.h"
#include "core/distributed.h"
#include "core/model.h"

namespace performer::core {

enum class OptimizerKind {
  adamw,  // AdamW for every parameter
  muon,   // Muon (core/muon.h) for the blocks' weight matrices, AdamW for the rest, at one learning rate
};
constexpr NameList<OptimizerKind, 2> names(OptimizerKind) {
  return {{{OptimizerKind::adamw, "adamw"}, {OptimizerKind::muon, "muon"}}};
}

struct TrainOptions {
  double learning_rate = 1e-3;   // peak learning rate
  double weight_decay = 0.01;    // AdamW decoupled weight decay
  double beta1 = 0.9;            // AdamW
  double beta2 = 0.98;           // AdamW
  OptimizerKind optimizer = OptimizerKind::adamw;  // which optimiser
  double muon_momentum = 0.95;   // Muon's Nesterov momentum
  int64_t warmup_steps = 200;    // linear warm-up, then cosine decay to 0 at max_steps
  int64_t max_steps = 10000;     // optimiser steps (the schedule's length)
  double max_seconds = 0;        // stop this run after so much training time; 0: no limit
  // The cosine decay spans max_seconds of training time, counted over the whole run (resumes
  // included), instead of max_steps: it ends at 0 when the time is up, whatever the machine's speed.
  // The run stops at max_seconds in total or at max_steps, whichever comes first.
  bool schedule_by_time = false;
  int64_t stop_at_step = 0;      // stop this run at this step (the schedule still spans max_steps); 0: none
  double clip_norm = 1.0;        // gradient norm clip; 0: none
  int64_t accumulation = 1;      // batches per optimiser step
  int64_t eval_every = 200;      // steps between evaluations; 0: only at the end
  int64_t eval_batches = 0;      // batches per evaluation; 0: the whole validation source
  bool eval_at_start = false;    // also evaluate before the first step (transfer: where fine-tuning starts)
  int64_t checkpoint_every = 500;  // steps between checkpoints; 0: only at the end
  std::string checkpoint;        // checkpoint path ("" for none)
  int64_t log_every = 10;        // steps between step events
  std::string device = "cpu";    // cpu or cuda
  // Data-parallel training (core/distributed.h): every rank runs the same Trainer on its own part of
  // the data; gradients are summed over ranks and weighted by labelled tokens, so a step equals one
  // process's step over all ranks' batches. Not owned; null: one process.
  Communicator* communicator = nullptr;
  int64_t bucket_bytes = 4 << 20;  // gradient all-reduce buckets
};

struct EvalResult {
  double loss = 0;        // mean cross-entropy per labelled token (nats)
  double perplexity = 0;  // exp(loss)
  double accuracy = 0;    // share of labelled tokens predicted exactly
  int64_t tokens = 0;     // labelled tokens evaluated
};

struct TrainEvent {
  enum class Kind { step, eval, checkpoint, done };
  Kind kind = Kind::step;
  int64_t step = 0;
  int64_t max_steps = 0;
  double loss = 0;              // step: mean training loss since the last step event
  double learning_rate = 0;
  double grad_norm = 0;         // before clipping
  double tokens_per_second = 0; // input tokens (not padding) per second since the last step event
  int64_t tokens = 0;           // input tokens trained on so far
  int64_t targets = 0;          // step: labelled positions the loss averaged over since the last step event
  double seconds = 0;           // training time so far
  EvalResult eval;              // eval events
  std::string path;             // checkpoint events
  // Step events of a data-parallel run: what the last step's gradient all-reduce cost.
  int64_t world = 1;
  int64_t allreduce_bytes = 0;  // per rank and step
  int64_t buckets = 0, early_buckets = 0;  // started during the backward, of all
  double allreduce_wait_ms = 0;  // waited after the backward (communication not hidden)
  double step_ms = 0;            // the step's wall time, for scale
};

using BatchSourceFactory = std::function<std::unique_ptr<BatchSource>(int64_t epoch)>;

// Learning rate at a step: linear warm-up over warmup_steps, then cosine decay to 0 at max_steps;
// with schedule_by_time, the decay's progress is the larger of the steps' and seconds / max_seconds
// (seconds: training time of the run so far).
double learning_rate_at(const TrainOptions& options, int64_t step, double seconds = 0);

EvalResult evaluate(ProteinLM& model, BatchSource& source, int64_t max_batches, const torch::Device& device);

// The batches of a data-parallel evaluation that rank `rank` of `world` takes when the whole
// evaluation is max_batches batches (0: all): every world-th, starting at its rank.
int64_t rank_share(int64_t max_batches, int64_t rank, int64_t world);

class Trainer {
 public:
  // train(epoch) gives a fresh pass over the training data (deterministic per epoch); valid() a pass
  // over the validation data (may be null: no evaluation).
  Trainer(ProteinLM model, TrainOptions options, BatchSourceFactory train, BatchSourceFactory valid);

  // Continues from a checkpoint of the same run: optimiser state, step, data position.
  void resume(const std::string& checkpoint);

  // Trains until max_steps or max_seconds. Throws TrainingError on a loss that is not finite (the
  // last checkpoint written stays as it was).
  TrainState run(const std::function<void(const TrainEvent&)>& on_event = {});

  const TrainState& state() const { return state_; }

 private:
  void checkpoint(const std::function<void(const TrainEvent&)>& on_event);
  bool distributed() const { return options_.communicator && options_.communicator->world() > 1; }

  ProteinLM model_;
  TrainOptions options_;
  BatchSourceFactory train_, valid_;
  torch::Device device_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;  // AdamW or Muon: both take their rate as AdamWOptions
  TrainState state_;
};

}  // namespace performer::core
