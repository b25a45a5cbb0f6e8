// performer bench: attention speed/memory sweeps and FAVOR approximation error, as tables and CSV.
#include <ATen/Parallel.h>
#include <torch/cuda.h>

#include <iostream>
#include <array>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "cli/options.h"
#include "io/table.h"
#include "bio/prepared.h"
#include "tools/bench_data.h"
#include "tools/bench_attention.h"
#include "tools/bench_model.h"
#include "core/errors.h"
#include "core/model.h"

namespace performer::cli {
namespace {

struct AttentionArgs {
  std::vector<int64_t> lengths = {1024, 2048, 4096, 8192, 16384};
  std::string direction = "both";
  std::string pass = "both";
  tools::AttentionBenchConfig config;
  std::string csv = "performer-bench-attention.csv";
};

struct ApproxArgs {
  tools::ApproxConfig config;
  std::vector<double> input_stds = {0.25, 0.5, 0.75};
  std::string csv = "performer-bench-approx.csv";
};

// The table for the terminal, and as CSV to csv ("" none, "-" standard output: the text table then goes
// to stderr, so that stdout holds only the CSV).
void report(const io::Table& table, const std::string& title, const std::string& csv) {
  std::ostream& text = csv == "-" ? std::cerr : std::cout;
  if (!title.empty()) text << title << "\n";
  text << table.text();
  if (csv.empty()) return;
  table.write_csv(csv);
  if (csv != "-") std::cerr << "wrote " << csv << "\n";
}

void run_attention(AttentionArgs& args) {
  auto& c = args.config;
  c.lengths = args.lengths;
  c.causal.clear();
  if (args.direction == "both" || args.direction == "bidirectional") c.causal.push_back(false);
  if (args.direction == "both" || args.direction == "causal") c.causal.push_back(true);
  c.forward = args.pass == "both" || args.pass == "forward";
  c.backward = args.pass == "both" || args.pass == "backward";
  std::cerr << "bench attention: B=" << c.batch << " H=" << c.heads << " d=" << c.dim
            << " m=" << c.features << " threads=" << at::get_num_threads() << " device=" << c.device
            << "\n";
  io::Table table;
  table.header = {"kind", "direction", "length", "pass", "median_ms", "peak_mib",
                  "vs_exact", "vs_dummy", "runs", "note"};
  auto to_cells = [](const tools::AttentionBenchRow& r) {
    return std::vector<std::string>{r.kind, r.causal ? "causal" : "bidirectional",
                                    std::to_string(r.length), r.pass,
                                    io::format_number(r.median_ms, 2), io::format_number(r.peak_mib, 1),
                                    io::format_number(r.vs_exact, 3), io::format_number(r.vs_dummy, 1),
                                    std::to_string(r.runs), r.note};
  };
  auto rows = tools::bench_attention(c, [&](const tools::AttentionBenchRow& r) {
    auto cells = to_cells(r);
    std::ostringstream line;
    for (size_t i = 0; i < cells.size(); ++i) line << (i ? " " : "") << table.header[i] << "=" << cells[i];
    std::cerr << line.str() << "\n";
  });
  for (const auto& r : rows) table.rows.push_back(to_cells(r));
  report(table, "", args.csv);
}

void run_approx(ApproxArgs& args) {
  using core::AttentionKind;
  using core::ProjectionKind;
  io::Table table;
  table.header = {"input_std", "kind", "projection", "features", "output_rel_error", "weight_mae"};
  for (double input_std : args.input_stds) {
    args.config.input_std = input_std;
    auto add = [&](std::vector<AttentionKind> kinds, std::vector<ProjectionKind> projections) {
      for (const auto& r : tools::approximation_study(args.config, kinds, projections)) {
        table.rows.push_back({io::format_number(input_std, 2), r.kind, r.projection, std::to_string(r.features),
                              io::format_number(r.output_error, 5), io::format_number(r.weight_error, 8)});
        std::cerr << "input_std=" << input_std << " " << r.kind << " " << r.projection
                  << " m=" << r.features << "\n";
      }
    };
    add({AttentionKind::favor_softmax, AttentionKind::favor_trig},
        {ProjectionKind::orthogonal, ProjectionKind::iid});
    add({AttentionKind::favor_relu}, {ProjectionKind::orthogonal});
  }
  report(table,
         "approximation error against exact attention (L=" + std::to_string(args.config.length) +
             ", d=" + std::to_string(args.config.dim) + ", heads=" + std::to_string(args.config.heads) +
             ", seeds=" + std::to_string(args.config.seeds) +
             "); q, k entries ~ N(0, input_std^2); favor_relu is another kernel, shown for scale",
         args.csv);
}

// A prepared folder: the loader's speed, the number to hold against training's tokens per second.
void run_prepared_data(const std::string& dir, const std::string& csv) {
  io::Table table;
  table.header = {"objective", "max_length", "tokens_per_batch", "batches", "tokens", "open_s", "seconds",
                  "batches_per_s", "tokens_per_s", "peak_rss_mib"};
  const int64_t max_length = core::preset_config("small").max_length, budget = 16384;
  for (auto objective : {core::Objective::mlm, core::Objective::ar}) {
    const auto r = tools::bench_prepared(dir, objective, max_length, budget, 2000);
    table.rows.push_back({r.objective, std::to_string(max_length), std::to_string(budget), std::to_string(r.batches),
                          std::to_string(r.tokens), io::format_number(r.open_seconds, 3), io::format_number(r.seconds, 3),
                          io::format_number(r.batches_per_s, 1), io::format_number(r.tokens_per_s, 0),
                          std::to_string(r.peak_rss_mib)});
  }
  report(table, "prepared-data loader (" + dir + "; train split, batches built on the loader's one thread, up to 2000)",
         csv);
}

void run_data(const std::string& file, bio::UnknownPolicy policy, const std::string& csv) {
  if (bio::is_prepared(file)) {
    run_prepared_data(file, csv);
    return;
  }
  io::Table table;
  table.header = {"stage", "compression", "records", "residues", "file_mb", "text_mb", "seconds",
                  "text_mb_per_s", "peak_rss_mib"};
  for (const auto& r : {tools::bench_read(file), tools::bench_parse(file, policy)}) {
    table.rows.push_back({r.stage, r.compression, std::to_string(r.records), std::to_string(r.residues),
                          io::format_number(r.file_bytes / 1e6, 1), io::format_number(r.text_bytes / 1e6, 1),
                          io::format_number(r.seconds, 3), io::format_number(r.text_mb_per_s, 1),
                          std::to_string(r.peak_rss_mib)});
  }
  report(table, "input speed (" + file + "; parsing on one thread, gzip/bzip2 decompressed on another)", csv);
}

struct ModelArgs {
  tools::ModelBenchConfig config;
  std::string csv = "performer-bench-model.csv";
};

void run_model(ModelArgs& args) {
  const int64_t features = args.config.features > 0 ? args.config.features : core::preset_config(args.config.preset).features;
  std::cerr << "bench model: preset " << args.config.preset << ", features " << features << ", batch "
            << args.config.batch << ", " << core::to_string(args.config.precision) << " products, threads "
            << at::get_num_threads() << ", device " << args.config.device << "\n";
  io::Table table;
  table.header = {"kind", "objective", "length", "step_ms", "tokens_per_s", "peak_mib", "vs_dummy", "vs_exact", "runs", "note"};
  auto cells = [](const tools::ModelBenchRow& r) {
    return std::vector<std::string>{r.kind, r.objective, std::to_string(r.length), io::format_number(r.median_ms, 1),
                                    io::format_number(r.tokens_per_second, 0), io::format_number(r.peak_mib, 1),
                                    io::format_number(r.vs_dummy, 3), io::format_number(r.vs_exact, 3),
                                    std::to_string(r.runs), r.note};
  };
  auto rows = tools::bench_model(args.config, [&](const tools::ModelBenchRow& r) {
    auto c = cells(r);
    std::cerr << c[0] << " " << c[1] << " L=" << c[2] << " step_ms=" << c[3] << " vs_dummy=" << c[6] << "\n";
  });
  for (const auto& r : rows) table.rows.push_back(cells(r));
  report(table, "", args.csv);
}

}  // namespace

void setup_bench(CLI::App& sub, const GlobalOptions& global) {
  sub.require_subcommand(1);
  auto attention_args = std::make_shared<AttentionArgs>();
  auto* att = sub.add_subcommand("attention", "time and peak memory of attention kinds vs length");
  auto& a = *attention_args;
  add_choices(*att, "--kinds", a.config.kinds, "attention kinds to run");
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
  add_device_option(*att, a.config.device);
  att->add_option("--csv", a.csv, "CSV output file ('' for none, - for standard output)")->capture_default_str();
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
  apx->add_option("--csv", p.csv, "CSV output file ('' for none, - for standard output)")->capture_default_str();
  struct DataArgs {
    std::string file, csv = "performer-bench-data.csv";
    bio::UnknownPolicy unknown = bio::UnknownPolicy::x;
  };
  auto data_args = std::make_shared<DataArgs>();
  auto* dat = sub.add_subcommand("data", "input speed: FASTA decompression and parsing, or a prepared folder's loader");
  dat->add_option("file", data_args->file, "FASTA file (plain, gzip, bzip2), or a folder of `performer data prepare`")
      ->required();
  add_unknown_option(*dat, data_args->unknown);
  dat->add_option("--csv", data_args->csv, "CSV output file ('' for none, - for standard output)")->capture_default_str();
  dat->callback([data_args] { run_data(data_args->file, data_args->unknown, data_args->csv); });

  auto model_args = std::make_shared<ModelArgs>();
  auto* mod = sub.add_subcommand("model", "one full training step (forward, backward, AdamW) per attention kind and length");
  auto& m = *model_args;
  mod->add_option("--preset", m.config.preset, "model preset")->check(CLI::IsMember({"tiny", "small", "paper"}))->capture_default_str();
  mod->add_option("--features", m.config.features, "random features m of the favor kinds (0: the preset's)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  add_choices(*mod, "--objectives", m.config.objectives, "objectives");
  add_choices(*mod, "--kinds", m.config.kinds, "attention kinds");
  mod->add_option("--lengths", m.config.lengths, "sequence lengths")->delimiter(',')->capture_default_str();
  mod->add_option("--batch", m.config.batch, "sequences per step")->check(CLI::PositiveNumber)->capture_default_str();
  mod->add_option("--repeats", m.config.repeats, "timed steps per case")->check(CLI::PositiveNumber)->capture_default_str();
  mod->add_option("--max-memory", m.config.max_memory_gib, "skip cases estimated above this many GiB")->capture_default_str();
  mod->add_flag("--recompute-features{false}", m.config.keep_features,
                "favor kinds: recompute the features in the backward instead of keeping them");
  add_choice(*mod, "--precision", m.config.precision, "products of the dense layers and FAVOR (bf16: mixed precision)");
  add_device_option(*mod, m.config.device);
  mod->add_option("--csv", m.csv, "CSV output file ('' for none, - for standard output)")->capture_default_str();
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
