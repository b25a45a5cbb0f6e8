#pragma once
// Full training steps of ProteinLM (forward, backward, AdamW) per attention kind and length.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/attention.h"
#include "core/settings.h"

namespace performer::tools {

struct ModelBenchConfig {
  std::string preset = "small";      // model preset
  int64_t features = 0;              // random features m of the favor kinds; 0: the preset's
  bool keep_features = true;         // favor kinds keep their features for the backward (false: recompute)
  core::Precision precision = core::Precision::fp32;  // products of the dense layers and FAVOR
  std::vector<core::Objective> objectives = {core::Objective::mlm, core::Objective::ar};
  std::vector<core::AttentionKind> kinds = {core::AttentionKind::exact, core::AttentionKind::favor_softmax,
                                      core::AttentionKind::favor_relu, core::AttentionKind::dummy};
  std::vector<int64_t> lengths = {1024, 2048, 4096, 8192};
  int64_t batch = 1;                 // sequences per step
  int repeats = 3;                   // rounds: one timed step of every kind each (median), after a warm-up step
  double seconds_per_case = 60;      // stop the rounds after about this long per case (at least 2)
  double max_memory_gib = 16;        // skip cases estimated above this
  std::string device = "cpu";
};

struct ModelBenchRow {
  std::string kind, objective;
  int64_t length = 0;
  double median_ms = 0;          // one training step
  double tokens_per_second = 0;  // batch x length / step time
  double peak_mib = 0;           // peak tensor memory during a step, above the model and optimiser
  double vs_dummy = 0, vs_exact = 0;
  int runs = 0;
  std::string note;
};

std::vector<ModelBenchRow> bench_model(const ModelBenchConfig& config,
                                       const std::function<void(const ModelBenchRow&)>& progress = {});

}  // namespace performer::tools
