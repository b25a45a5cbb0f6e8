// performer bench: attention speed/memory sweeps and FAVOR approximation error, as tables and CSV.
#include <ATen/Parallel.h>
#include <torch/cuda.h>

#include <iostream>
#include <array>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "cli/table.h"
#include "bio/bench_data.h"
#include "core/bench_attention.h"
#include "core/bench_model.h"
#include "core/errors.h"
#include "core/model.h"

namespace performer::cli {
namespace {

struct AttentionArgs {
  std::vector<std::string> kinds = {"exact", "favor_softmax", "favor_relu", "dummy"};
  std::vector<int64_t> lengths = {1024, 2048, 4096, 8192, 16384};
  std::string direction = "both";
  std::string pass = "both";
  core::AttentionBenchConfig config;
  std::string csv = "performer-bench-attention.csv";
};

struct ApproxArgs {
  core::ApproxConfig config;
  std::vector<double> input_stds = {0.25, 0.5, 0.75};
  std::string csv = "performer-bench-approx.csv";
};

void run_attention(AttentionArgs& args) {
  auto& c = args.config;
  c.kinds.clear();
  for (const auto& k : args.kinds) c.kinds.push_back(core::parse_attention_kind(k));
  c.lengths = args.lengths;
  c.causal.clear();
  if (args.direction == "both" || args.direction == "bidirectional") c.causal.push_back(false);
  if (args.direction == "both" || args.direction == "causal") c.causal.push_back(true);
  c.forward = args.pass == "both" || args.pass == "forward";
  c.backward = args.pass == "both" || args.pass == "backward";
  std::cerr << "bench attention: B=" << c.batch << " H=" << c.heads << " d=" << c.dim
            << " m=" << c.features << " threads=" << at::get_num_threads() << " device=" << c.device
            << "\n";
  Table table;
  table.header = {"kind", "direction", "length", "pass", "median_ms", "peak_mib",
                  "vs_exact", "vs_dummy", "runs", "note"};
  auto to_cells = [](const core::AttentionBenchRow& r) {
    return std::vector<std::string>{r.kind, r.causal ? "causal" : "bidirectional",
                                    std::to_string(r.length), r.pass,
                                    format_number(r.median_ms, 2), format_number(r.peak_mib, 1),
                                    format_number(r.vs_exact, 3), format_number(r.vs_dummy, 1),
                                    std::to_string(r.runs), r.note};
  };
  auto rows = core::bench_attention(c, [&](const core::AttentionBenchRow& r) {
    auto cells = to_cells(r);
    std::ostringstream line;
    for (size_t i = 0; i < cells.size(); ++i) line << (i ? " " : "") << table.header[i] << "=" << cells[i];
    std::cerr << line.str() << "\n";
  });
  for (const auto& r : rows) table.rows.push_back(to_cells(r));
  std::cout << table.text();
  if (!args.csv.empty()) {
    table.write_csv(args.csv);
    std::cerr << "wrote " << args.csv << "\n";
  }
}

void run_approx(ApproxArgs& args) {
  using core::AttentionKind;
  using core::ProjectionKind;
  Table table;
  table.header = {"input_std", "kind", "projection", "features", "output_rel_error", "weight_mae"};
  for (double input_std : args.input_stds) {
    args.config.input_std = input_std;
    auto add = [&](std::vector<AttentionKind> kinds, std::vector<ProjectionKind> projections) {
      for (const auto& r : core::approximation_study(args.config, kinds, projections)) {
        table.rows.push_back({format_number(input_std, 2), r.kind, r.projection, std::to_string(r.features),
                              format_number(r.output_error, 5), format_number(r.weight_error, 8)});
        std::cerr << "input_std=" << input_std << " " << r.kind << " " << r.projection
                  << " m=" << r.features << "\n";
      }
    };
    add({AttentionKind::favor_softmax, AttentionKind::favor_trig},
        {ProjectionKind::orthogonal, ProjectionKind::iid});
    add({AttentionKind::favor_relu}, {ProjectionKind::orthogonal});
  }
  std::cout << "approximation error against exact attention (L=" << args.config.length
            << ", d=" << args.config.dim << ", heads=" << args.config.heads
            << ", seeds=" << args.config.seeds
            << "); q, k entries ~ N(0, input_std^2); favor_relu is another kernel, shown for scale\n"
            << table.text();
  if (!args.csv.empty()) {
    table.write_csv(args.csv);
    std::cerr << "wrote " << args.csv << "\n";
  }
}

void run_data(const std::string& file, const std::string& unknown, const std::string& csv) {
  const auto policy = bio::parse_unknown_policy(unknown);
  Table table;
  table.header = {"stage", "compression", "records", "residues", "file_mb", "text_mb", "seconds",
                  "text_mb_per_s", "peak_rss_mib"};
  for (const auto& r : {bio::bench_read(file), bio::bench_parse(file, policy)}) {
    table.rows.push_back({r.stage, r.compression, std::to_string(r.records), std::to_string(r.residues),
                          format_number(r.file_bytes / 1e6, 1), format_number(r.text_bytes / 1e6, 1),
                          format_number(r.seconds, 3), format_number(r.text_mb_per_s, 1),
                          std::to_string(r.peak_rss_mib)});
  }
  std::cout << "input speed (" << file << "; parsing on one thread, gzip/bzip2 decompressed on another)\n"
            << table.text();
  if (!csv.empty()) table.write_csv(csv);
}

struct ModelArgs {
  core::ModelBenchConfig config;
  std::vector<std::string> kinds = {"exact", "favor_softmax", "favor_relu", "dummy"};
  std::string csv = "performer-bench-model.csv";
};

void run_model(ModelArgs& args) {
  args.config.kinds.clear();
  for (const auto& k : args.kinds) args.config.kinds.push_back(core::parse_attention_kind(k));
  const int64_t features = args.config.features > 0 ? args.config.features : core::preset_config(args.config.preset).features;
  std::cerr << "bench model: preset " << args.config.preset << ", features " << features << ", batch "
            << args.config.batch << ", " << args.config.precision << " products, threads "
            << at::get_num_threads() << ", device " << args.config.device << "\n";
  Table table;
  table.header = {"kind", "objective", "length", "step_ms", "tokens_per_s", "peak_mib", "vs_dummy", "vs_exact", "runs", "note"};
  auto cells = [](const core::ModelBenchRow& r) {
    return std::vector<std::string>{r.kind, r.objective, std::to_string(r.length), format_number(r.median_ms, 1),
                                    format_number(r.tokens_per_second, 0), format_number(r.peak_mib, 1),
                                    format_number(r.vs_dummy, 3), format_number(r.vs_exact, 3),
                                    std::to_string(r.runs), r.note};
  };
  auto rows = core::bench_model(args.config, [&](const core::ModelBenchRow& r) {
    auto c = cells(r);
    std::cerr << c[0] << " " << c[1] << " L=" << c[2] << " step_ms=" << c[3] << " vs_dummy=" << c[6] << "\n";
  });
  for (const auto& r : rows) table.rows.push_back(cells(r));
  std::cout << table.text();
  if (!args.csv.empty()) table.write_csv(args.csv);
}

}  // namespace

void setup_bench(CLI::App& sub, const GlobalOptions& global) {
  sub.require_subcommand(1);
  auto attention_args = std::make_shared<AttentionArgs>();
  auto* att = sub.add_subcommand("attention", "time and peak memory of attention kinds vs length");
  auto& a = *attention_args;
  att->add_option("--kinds", a.kinds, "attention kinds to run")->delimiter(',')->capture_default_str();
  att->add_option("--lengths", a.lengths, "sequence lengths")->delimiter(',')->capture_default_str();
  att->add_option("--direction", a.direction, "bidirectional, causal or both")
      ->check(CLI::IsMember({"both", "bidirectional", "causal"}))->capture_default_str();
  att->add_option("--pass", a.pass, "forward, backward (forward+backward) or both")
      ->check(CLI::IsMember({"both", "forward", "backward"}))->capture_default_str();
  att->add_option("--batch", a.config.batch, "batch size B")->check(CLI::PositiveNumber)->capture_default_str();
  att->add_option("--heads", a.config.heads, "heads H")->check(CLI::PositiveNumber)->capture_default_str();
  att->add_option("--dim", a.config.dim, "dimension per head d")->check(CLI::PositiveNumber)->capture_default_str();
  att->add_option("--features", a.config.features, "random features m")->check(CLI::PositiveNumber)->capture_default_str();
  att->add_option("--chunk", a.config.causal_chunk_size, "causal chunk size C")->check(CLI::PositiveNumber)->capture_default_str();
  att->add_option("--block-rows", a.config.block_rows, "favor rows per block (0: automatic)")->capture_default_str();
  att->add_flag("--recompute-features{false}", a.config.keep_features,
                "favor: recompute the features in the backward instead of keeping them");
  att->add_option("--repeats", a.config.repeats, "timed runs per case (median)")->check(CLI::PositiveNumber)->capture_default_str();
  att->add_option("--seconds-per-case", a.config.seconds_per_case, "stop repeating a case after this long")->capture_default_str();
  att->add_option("--max-memory", a.config.max_memory_gib, "skip cases estimated above this many GiB")->capture_default_str();
  att->add_option("--device", a.config.device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();
  att->add_option("--csv", a.csv, "CSV output file ('' for none)")->capture_default_str();
  att->callback([attention_args, &global] {
    apply_global_options(global);
    if (attention_args->config.device == "cuda" && !torch::cuda::is_available()) {
      throw ConfigError("--device cuda: this LibTorch has no CUDA device available");
    }
    run_attention(*attention_args);
  });

  auto approx_args = std::make_shared<ApproxArgs>();
  auto* apx = sub.add_subcommand("approx", "FAVOR approximation error vs exact attention over m");
  auto& p = *approx_args;
  apx->add_option("--features", p.config.features, "feature counts m")->delimiter(',')->capture_default_str();
  apx->add_option("--length", p.config.length, "sequence length L")->check(CLI::PositiveNumber)->capture_default_str();
  apx->add_option("--dim", p.config.dim, "dimension per head d")->check(CLI::PositiveNumber)->capture_default_str();
  apx->add_option("--seeds", p.config.seeds, "trials averaged per row")->check(CLI::PositiveNumber)->capture_default_str();
  apx->add_option("--input-std", p.input_stds, "standard deviations of q and k entries")
      ->delimiter(',')->capture_default_str();
  apx->add_flag("--causal", p.config.causal, "causal attention");
  apx->add_option("--csv", p.csv, "CSV output file ('' for none)")->capture_default_str();
  auto data_args = std::make_shared<std::array<std::string, 3>>(
      std::array<std::string, 3>{"", "x", "performer-bench-data.csv"});
  auto* dat = sub.add_subcommand("data", "FASTA input speed: decompression alone, then parse + tokenize");
  dat->add_option("file", (*data_args)[0], "FASTA file (plain, gzip, bzip2)")->required();
  dat->add_option("--unknown", (*data_args)[1], "policy for unknown characters: x, skip or error")
      ->check(CLI::IsMember({"x", "skip", "error"}))->capture_default_str();
  dat->add_option("--csv", (*data_args)[2], "CSV output file ('' for none)")->capture_default_str();
  dat->callback([data_args] { run_data((*data_args)[0], (*data_args)[1], (*data_args)[2]); });

  auto model_args = std::make_shared<ModelArgs>();
  auto* mod = sub.add_subcommand("model", "one full training step (forward, backward, AdamW) per attention kind and length");
  auto& m = *model_args;
  mod->add_option("--preset", m.config.preset, "model preset")->check(CLI::IsMember({"tiny", "small", "paper"}))->capture_default_str();
  mod->add_option("--features", m.config.features, "random features m of the favor kinds (0: the preset's)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  mod->add_option("--objectives", m.config.objectives, "mlm, ar")->delimiter(',')->capture_default_str();
  mod->add_option("--kinds", m.kinds, "attention kinds")->delimiter(',')->capture_default_str();
  mod->add_option("--lengths", m.config.lengths, "sequence lengths")->delimiter(',')->capture_default_str();
  mod->add_option("--batch", m.config.batch, "sequences per step")->check(CLI::PositiveNumber)->capture_default_str();
  mod->add_option("--repeats", m.config.repeats, "timed steps per case")->check(CLI::PositiveNumber)->capture_default_str();
  mod->add_option("--max-memory", m.config.max_memory_gib, "skip cases estimated above this many GiB")->capture_default_str();
  mod->add_flag("--recompute-features{false}", m.config.keep_features,
                "favor kinds: recompute the features in the backward instead of keeping them");
  mod->add_option("--precision", m.config.precision, "products of the dense layers and FAVOR: fp32, or bf16 (mixed precision)")
      ->check(CLI::IsMember({"fp32", "bf16"}))->capture_default_str();
  mod->add_option("--device", m.config.device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();
  mod->add_option("--csv", m.csv, "CSV output file ('' for none)")->capture_default_str();
  mod->callback([model_args, &global] {
    apply_global_options(global);
    run_model(*model_args);
  });

  apx->callback([approx_args, &global] {
    apply_global_options(global);
    run_approx(*approx_args);
  });
}

}  // namespace performer::cli
