#include "tools/bench_attention.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>

#include "tools/bench_util.h"
#include "tools/memory.h"

namespace performer::tools {
using namespace performer::core;
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}

// Rough bytes a case needs: exact keeps a few [B, H, L, L] tensors, the others O(L).
double estimated_gib(const AttentionBenchConfig& c, AttentionKind kind, int64_t length, bool backward) {
  const double per_row = static_cast<double>(c.batch * c.heads) * 4.0;
  if (kind == AttentionKind::exact) {
    return per_row * length * length * (backward ? 4.5 : 2.2) / (1 << 30);
  }
  const bool kept = backward && c.keep_features && keeps_features(kind);
  const double feature_rows = kept ? 6.0 : 4.0;  // kept features: 2 more [L, m]
  return per_row * length * (3.0 * c.dim + feature_rows * c.features) * 4.0 / (1 << 30);
}

}  // namespace

std::vector<AttentionBenchRow> bench_attention(const AttentionBenchConfig& config,
                                               const BenchProgress& progress) {
  const torch::Device device(config.device);
  const bool count_memory = device.is_cpu();
  if (count_memory) TensorMemory::install();
  keep_freed_memory();
  std::vector<AttentionBenchRow> rows;
  std::vector<std::string> passes;
  if (config.forward) passes.push_back("forward");
  if (config.backward) passes.push_back("forward+backward");

  ProjectionOptions popts;
  popts.features = config.features;
  popts.dim = config.dim;
  popts.seed = config.seed;
  const at::Tensor projection = draw_projection(popts).to(device);
  torch::manual_seed(config.seed);

  for (bool causal : config.causal) {
    for (int64_t length : config.lengths) {
      auto opts = torch::TensorOptions().device(device).dtype(torch::kFloat);
      at::Tensor q = torch::randn({config.batch, config.heads, length, config.dim}, opts);
      at::Tensor k = torch::randn({config.batch, config.heads, length, config.dim}, opts);
      at::Tensor v = torch::randn({config.batch, config.heads, length, config.dim}, opts);
      at::Tensor grad = torch::randn({config.batch, config.heads, length, config.dim}, opts);
      for (const auto& pass : passes) {
        const bool backward = pass != "forward";
        std::map<AttentionKind, double> medians;
        const size_t first = rows.size();
        for (AttentionKind kind : config.kinds) {
          AttentionBenchRow row;
          row.kind = to_string(kind);
          row.causal = causal;
          row.length = length;
          row.pass = pass;
          row.median_ms = row.peak_mib = kNaN;
          const double need = estimated_gib(config, kind, length, backward);
          if (need > config.max_memory_gib) {
            char buf[96];
            std::snprintf(buf, sizeof buf, "skipped: needs ~%.0f GiB (limit %.0f GiB)", need,
                          config.max_memory_gib);
            row.note = buf;
          } else {
            AttentionOptions a;
            a.kind = kind;
            a.causal = causal;
            a.projection = projection;
            a.causal_chunk_size = config.causal_chunk_size;
            a.block_rows = config.block_rows;
            a.keep_features = config.keep_features;
            at::Tensor qg = q.detach().requires_grad_(backward);
            at::Tensor kg = k.detach().requires_grad_(backward);
            at::Tensor vg = v.detach().requires_grad_(backward);
            auto run_once = [&] {
              if (backward) {
                at::Tensor out = attention(qg, kg, vg, a);
                out.backward(grad);
                qg.mutable_grad() = at::Tensor();
                kg.mutable_grad() = at::Tensor();
                vg.mutable_grad() = at::Tensor();
              } else {
                torch::NoGradGuard no_grad;
                at::Tensor out = attention(q, k, v, a);
              }
              synchronize(device);
            };
            const int64_t base = TensorMemory::current_bytes();
            TensorMemory::reset_peak();
            run_once();  // warm-up, also the memory measurement
            if (count_memory) row.peak_mib = (TensorMemory::peak_bytes() - base) / 1048576.0;
            std::vector<double> times;
            const auto start = std::chrono::steady_clock::now();
            for (int i = 0; i < std::max(1, config.repeats); ++i) {
              const auto t0 = std::chrono::steady_clock::now();
              run_once();
              const auto t1 = std::chrono::steady_clock::now();
              times.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
              const double spent = std::chrono::duration<double>(t1 - start).count();
              if (i >= 2 && spent > config.seconds_per_case) break;
            }
            row.runs = static_cast<int>(times.size());
            row.median_ms = median(times);
            medians[kind] = row.median_ms;
          }
          rows.push_back(row);
        }
        fill_ratios(rows, first, medians, progress);
      }
    }
  }
  return rows;
}

double relative_output_error(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                             const AttentionOptions& options) {
  torch::NoGradGuard no_grad;
  AttentionOptions exact = options;
  exact.kind = AttentionKind::exact;
  at::Tensor reference = attention(q, k, v, exact);
  return ((attention(q, k, v, options) - reference).norm() / reference.norm()).item<double>();
}

std::vector<ApproxRow> approximation_study(const ApproxConfig& config, std::vector<AttentionKind> kinds,
                                           std::vector<ProjectionKind> projections) {
  torch::NoGradGuard no_grad;
  std::vector<ApproxRow> rows;
  for (AttentionKind kind : kinds) {
    for (ProjectionKind projection : projections) {
      for (int64_t m : config.features) {
        ApproxRow row;
        row.kind = to_string(kind);
        row.projection = to_string(projection);
        row.features = m;
        for (int seed = 0; seed < config.seeds; ++seed) {
          auto gen = at::detail::createCPUGenerator(1000 + seed);
          auto shape = std::vector<int64_t>{1, config.heads, config.length, config.dim};
          at::Tensor q = at::randn(shape, gen, at::kFloat) * config.input_std;
          at::Tensor k = at::randn(shape, gen, at::kFloat) * config.input_std;
          at::Tensor v = at::randn(shape, gen, at::kFloat);
          AttentionOptions a;
          a.kind = kind;
          a.causal = config.causal;
          ProjectionOptions p;
          p.features = m;
          p.dim = config.dim;
          p.kind = projection;
          p.seed = 77 + static_cast<uint64_t>(seed);
          a.projection = draw_projection(p);
          row.output_error += relative_output_error(q, k, v, a) / config.seeds;
          AttentionOptions exact = a;
          exact.kind = AttentionKind::exact;
          row.weight_error +=
              (attention_weights(q, k, a) - attention_weights(q, k, exact)).abs().mean().item<double>() /
              config.seeds;
        }
        rows.push_back(row);
      }
    }
  }
  return rows;
}

}  // namespace performer::tools
