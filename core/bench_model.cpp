#include "core/bench_model.h"

#include <torch/optim/adamw.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>

#include "core/bench_util.h"
#include "core/memory.h"
#include "core/model.h"

namespace performer::core {
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
      std::map<AttentionKind, double> medians;
      const size_t first = rows.size();
      for (AttentionKind kind : config.kinds) {
        ModelConfig mc = preset_config(config.preset);
        if (config.features > 0) mc.features = config.features;
        mc.objective = objective;
        mc.attention = kind;
        mc.max_length = length;
        ModelBenchRow row;
        row.kind = to_string(kind);
        row.objective = objective;
        row.length = length;
        row.median_ms = row.peak_mib = row.tokens_per_second = kNaN;
        const double need = estimated_gib(mc, config.batch, length, kind);
        if (need > config.max_memory_gib) {
          char buf[96];
          std::snprintf(buf, sizeof buf, "skipped: needs ~%.0f GiB (limit --max-memory %.0f)", need, config.max_memory_gib);
          row.note = buf;
          rows.push_back(row);
          continue;
        }
        ProteinLM model(mc);
        model->to(device);
        model->train();
        torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(1e-4));
        torch::manual_seed(1);
        auto opts = torch::TensorOptions().device(device).dtype(torch::kLong);
        at::Tensor tokens = torch::randint(5, 25, {config.batch, length}, opts);
        at::Tensor targets = objective == "mlm"
                                 ? tokens.masked_fill(torch::rand({config.batch, length}, opts.dtype(torch::kFloat)) > 0.15, -100)
                                 : torch::randint(5, 25, {config.batch, length}, opts);
        auto step = [&] {
          optimizer.zero_grad();
          model->loss(tokens, {}, targets).loss.backward();  // as performer train does
          optimizer.step();
          if (device.is_cuda()) torch::cuda::synchronize();
        };
        step();  // warm-up: allocates the optimiser state
        const int64_t base = TensorMemory::current_bytes();
        TensorMemory::reset_peak();
        std::vector<double> times;
        const auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < std::max(1, config.repeats); ++i) {
          const auto t0 = std::chrono::steady_clock::now();
          step();
          const auto t1 = std::chrono::steady_clock::now();
          times.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
          if (i >= 1 && std::chrono::duration<double>(t1 - start).count() > config.seconds_per_case) break;
        }
        if (device.is_cpu()) row.peak_mib = (TensorMemory::peak_bytes() - base) / 1048576.0;
        row.runs = static_cast<int>(times.size());
        row.median_ms = median(times);
        row.tokens_per_second = config.batch * length / (row.median_ms / 1000.0);
        medians[kind] = row.median_ms;
        rows.push_back(row);
      }
      fill_ratios(rows, first, medians, progress);
    }
  }
  return rows;
}

}  // namespace performer::core
