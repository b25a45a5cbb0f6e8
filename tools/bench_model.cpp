#include "tools/bench_model.h"

#include <torch/optim/adamw.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <random>

#include "tools/bench_util.h"
#include "tools/memory.h"
#include "core/model.h"

namespace performer::tools {
using namespace performer::core;
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Exact attention keeps about three [B, H, L, L] float tensors per layer for the backward pass.
double estimated_gib(const ModelConfig& c, int64_t batch, int64_t length, AttentionKind kind) {
  const double activations = 24.0 * c.layers * batch * length * std::max(c.d_model, c.d_ff) * 4.0;
  const double scores = kind == AttentionKind::exact ? 3.0 * c.layers * batch * c.heads * double(length) * length * 4.0 : 0;
  return (activations + scores) / (1 << 30);
}

}  // namespace

std::vector<ModelBenchRow> bench_model(const ModelBenchConfig& config,
                                       const std::function<void(const ModelBenchRow&)>& progress) {
  const torch::Device device(config.device);
  if (device.is_cpu()) TensorMemory::install();
  keep_freed_memory();
  std::vector<ModelBenchRow> rows;
  for (const auto& objective : config.objectives) {
    for (int64_t length : config.lengths) {
      // Every kind of this (objective, length) is built first; then the kinds take turns, one step
      // each per round, so that a change in the machine's speed during the run touches them alike.
      // All their models and optimiser states are alive at once (small next to a step's activations
      // for the presets here; --max-memory judges each step alone).
      struct Case {
        ModelBenchRow row;
        ProteinLM model{nullptr};
        std::unique_ptr<torch::optim::AdamW> optimizer;
        at::Tensor tokens, targets;
        std::vector<double> times;
        int64_t peak = 0;  // bytes above what was allocated before its step
      };
      std::vector<Case> cases;
      for (AttentionKind kind : config.kinds) {
        ModelConfig mc = preset_config(config.preset);
        if (config.features > 0) mc.features = config.features;
        mc.precision = config.precision;
        mc.objective = objective;
        mc.attention = kind;
        mc.max_length = length;
        Case c;
        c.row.kind = to_string(kind);
        c.row.objective = to_string(objective);
        c.row.length = length;
        c.row.median_ms = c.row.peak_mib = c.row.tokens_per_second = kNaN;
        const double need = estimated_gib(mc, config.batch, length, kind);
        if (need > config.max_memory_gib) {
          char buf[96];
          std::snprintf(buf, sizeof buf, "skipped: needs ~%.0f GiB (limit %.0f GiB)", need, config.max_memory_gib);
          c.row.note = buf;
        } else {
          c.model = ProteinLM(mc);
          c.model->set_keep_features(config.keep_features);
          c.model->to(device);
          c.model->train();
          c.optimizer = std::make_unique<torch::optim::AdamW>(c.model->parameters(),
                                                              torch::optim::AdamWOptions(1e-4));
          torch::manual_seed(1);
          auto opts = torch::TensorOptions().device(device).dtype(torch::kLong);
          c.tokens = torch::randint(5, 25, {config.batch, length}, opts);
          c.targets = objective == Objective::mlm
                          ? c.tokens.masked_fill(torch::rand({config.batch, length}, opts.dtype(torch::kFloat)) > 0.15, -100)
                          : torch::randint(5, 25, {config.batch, length}, opts);
        }
        cases.push_back(std::move(c));
      }
      auto step = [&](Case& c) {
        c.optimizer->zero_grad();
        c.model->loss(c.tokens, {}, c.targets).loss.backward();  // as performer train does
        c.optimizer->step();
        if (device.is_cuda()) torch::cuda::synchronize();
      };
      for (Case& c : cases) {
        if (c.model) step(c);  // warm-up: allocates the optimiser state
      }
      std::vector<size_t> order;
      for (size_t i = 0; i < cases.size(); ++i) {
        if (cases[i].model) order.push_back(i);
      }
      std::mt19937 shuffle_rng(12345);
      const auto start = std::chrono::steady_clock::now();
      for (int round = 0; round < std::max(1, config.repeats); ++round) {
        // A fresh order every round (seeded), so that no kind keeps following the same one: exact
        // attention at L = 8192 leaves gigabytes of freed memory and cold caches behind it.
        if (round > 0) std::shuffle(order.begin(), order.end(), shuffle_rng);
        for (size_t i : order) {
          Case& c = cases[i];
          const int64_t base = TensorMemory::current_bytes();
          TensorMemory::reset_peak();
          const auto t0 = std::chrono::steady_clock::now();
          step(c);
          const auto t1 = std::chrono::steady_clock::now();
          c.times.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
          c.peak = std::max(c.peak, TensorMemory::peak_bytes() - base);
        }
        const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (round >= 1 && elapsed > config.seconds_per_case * static_cast<double>(order.size())) break;
      }
      std::map<AttentionKind, double> medians;
      const size_t first = rows.size();
      for (size_t i = 0; i < cases.size(); ++i) {
        ModelBenchRow& row = cases[i].row;
        if (cases[i].model) {
          if (device.is_cpu()) row.peak_mib = cases[i].peak / 1048576.0;
          row.runs = static_cast<int>(cases[i].times.size());
          row.median_ms = median(cases[i].times);
          row.tokens_per_second = config.batch * length / (row.median_ms / 1000.0);
          medians[config.kinds[i]] = row.median_ms;
        }
        rows.push_back(row);
      }
      fill_ratios(rows, first, medians, progress);
    }
  }
  return rows;
}

}  // namespace performer::tools
