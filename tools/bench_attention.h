#pragma once
// Attention benchmarks and approximation studies. They return rows; printing is the caller's job.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/attention.h"
#include "core/projection.h"

namespace performer::tools {

struct AttentionBenchConfig {
  std::vector<core::AttentionKind> kinds = {core::AttentionKind::exact, core::AttentionKind::favor_softmax,
                                      core::AttentionKind::favor_relu, core::AttentionKind::dummy};
  std::vector<bool> causal = {false, true};  // directions to run
  std::vector<int64_t> lengths = {1024, 2048, 4096, 8192, 16384};
  bool forward = true;               // time the forward pass (no autograd)
  bool backward = true;              // time forward + backward
  int64_t batch = 1;                 // B
  int64_t heads = 8;                 // H
  int64_t dim = 64;                  // d per head
  int64_t features = 256;            // m
  int64_t causal_chunk_size = core::kDefaultCausalChunk;  // C
  int64_t block_rows = 0;            // favor rows per block; 0: automatic
  bool keep_features = true;         // favor: keep the features for the backward (false: recompute)
  int repeats = 5;                   // timed runs per case (median reported), after one warm-up
  double seconds_per_case = 20;      // stop repeating a case after this long (at least 3 runs)
  double max_memory_gib = 16;        // skip cases whose estimated memory exceeds this
  std::string device = "cpu";        // "cpu" or "cuda"
  uint64_t seed = 0;
};

struct AttentionBenchRow {
  std::string kind;
  bool causal = false;
  int64_t length = 0;
  std::string pass;            // "forward" or "forward+backward"
  double median_ms = 0;        // NaN when skipped
  double peak_mib = 0;         // peak tensor memory of the case above its inputs (CPU); NaN unknown
  double vs_exact = 0;         // median_ms / exact's median_ms in the same run (NaN if none)
  double vs_dummy = 0;         // median_ms / dummy's median_ms
  int runs = 0;
  std::string note;            // why a case was skipped, or empty
};

// Progress: called once per finished row.
using BenchProgress = std::function<void(const AttentionBenchRow&)>;

std::vector<AttentionBenchRow> bench_attention(const AttentionBenchConfig& config,
                                               const BenchProgress& progress = {});

struct ApproxConfig {
  std::vector<int64_t> features = {16, 32, 64, 128, 256, 512};
  int64_t length = 512;      // L
  int64_t dim = 64;          // d
  int64_t heads = 4;         // independent heads averaged in each trial
  double input_std = 1.0;    // q, k entries ~ N(0, input_std^2) before the d^-1/4 scaling
  int seeds = 8;             // trials averaged per row
  bool causal = false;
};

struct ApproxRow {
  std::string kind;        // favor_softmax, favor_trig, favor_relu
  std::string projection;  // orthogonal, iid
  int64_t features = 0;
  double output_error = 0;   // mean over trials of |out - exact| / |exact| (Frobenius)
  double weight_error = 0;   // mean absolute error of the attention matrix of head 0 vs exact
};

// Relative error of one attention computation against exact attention on the same q, k, v.
double relative_output_error(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                             const core::AttentionOptions& options);

// Approximation error of favor kinds against exact attention, over the grid of the config.
std::vector<ApproxRow> approximation_study(const ApproxConfig& config, std::vector<core::AttentionKind> kinds,
                                           std::vector<core::ProjectionKind> projections);

}  // namespace performer::tools
