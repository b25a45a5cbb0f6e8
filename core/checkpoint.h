#pragma once
// One checkpoint file: config (JSON), weights and projection buffers, optimiser state, and where the
// run stands (step, data position, tokens, time), so --resume continues the same run. Written to a
// temporary name and renamed: a crash never leaves a half-written checkpoint under the real name.
#include <torch/optim/optimizer.h>

#include <cstdint>
#include <limits>
#include <string>

#include "core/model.h"

namespace performer::core {

struct TrainState {
  int64_t step = 0;            // optimiser steps done
  int64_t epoch = 0;           // passes over the training data started
  int64_t batches_in_epoch = 0;  // batches of the current pass consumed
  int64_t tokens = 0;          // input tokens (not padding) trained on
  double seconds = 0;          // training time so far, over all runs
  double best_valid_loss = std::numeric_limits<double>::infinity();
};

void save_checkpoint(const std::string& path, ProteinLM& model, const TrainState& state,
                     torch::optim::Optimizer* optimizer);

struct Checkpoint {
  ModelConfig config;
  ProteinLM model{nullptr};
  TrainState state;
};

// Loads config and weights (on device). Throws InputError for a missing or unreadable file and
// ConfigError when its vocabulary is not `vocabulary` (unless that is empty).
Checkpoint load_checkpoint(const std::string& path, const std::string& vocabulary = "",
                           const torch::Device& device = torch::kCPU);
// Restores the optimiser state saved with the checkpoint.
void load_optimizer(const std::string& path, torch::optim::Optimizer& optimizer,
                    const torch::Device& device = torch::kCPU);

}  // namespace performer::core
