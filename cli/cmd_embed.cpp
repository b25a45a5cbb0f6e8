// performer embed: per-token, mean and <cls> embeddings as .npy arrays, with an index TSV.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "bio/header.h"
#include "cli/commands.h"
#include "cli/model_io.h"
#include "core/analysis.h"
#include "core/errors.h"
#include "core/npy.h"

namespace performer::cli {
namespace {

struct EmbedArgs {
  std::string model, fasta, out, unknown = "error", device = "cpu";
  std::vector<int64_t> layers = {-1};
  std::vector<std::string> include = {"mean"};
};

void run_embed(const EmbedArgs& a) {
  namespace fs = std::filesystem;
  core::Checkpoint c = load_model(a.model, a.device);
  const auto policy = bio::parse_unknown_policy(a.unknown);
  const bool per_token = std::count(a.include.begin(), a.include.end(), "per-token") > 0;
  const bool mean = std::count(a.include.begin(), a.include.end(), "mean") > 0;
  const bool bos = std::count(a.include.begin(), a.include.end(), "bos") > 0;
  make_folder(a.out);
  if (per_token) make_folder((fs::path(a.out) / "per_token").string());
  std::ofstream index((fs::path(a.out) / "index.tsv").string());
  if (!index) throw InputError("cannot write '" + (fs::path(a.out) / "index.tsv").string() + "'");
  index << "row\tid\tlength" << (per_token ? "\tper_token_file" : "") << "\n";
  std::vector<at::Tensor> means, cls;
  bio::FastaReader reader(a.fasta);
  bio::SequenceRecord r;
  int64_t row = 0;
  while (reader.next(r)) {
    const auto residues = bio::residue_tokens(r.sequence, policy, reader.where(r));
    if (residues.empty()) continue;
    at::Tensor h = core::hidden_states(c.model, bio::framed_tokens(residues), a.layers).to(at::kCPU);  // [layers, L+2, d]
    at::Tensor body = h.narrow(1, 1, static_cast<int64_t>(residues.size()));                  // residues only
    index << row << "\t" << bio::parse_header(r.header).id << "\t" << residues.size();
    if (per_token) {
      const std::string file = "per_token/" + std::to_string(row) + ".npy";
      core::write_npy((fs::path(a.out) / file).string(), body);
      index << "\t" << file;
    }
    index << "\n";
    if (mean) means.push_back(body.mean(1));  // [layers, d]
    if (bos) cls.push_back(h.select(1, 0));   // [layers, d]
    ++row;
  }
  if (mean) core::write_npy((fs::path(a.out) / "mean.npy").string(), at::stack(means));  // [N, layers, d]
  if (bos) core::write_npy((fs::path(a.out) / "bos.npy").string(), at::stack(cls));
  std::cerr << "embedded " << row << " sequences into " << a.out << "\n";
}

}  // namespace

void setup_embed(CLI::App& sub, const GlobalOptions& global) {
  auto a = std::make_shared<EmbedArgs>();
  sub.add_option("model", a->model, "checkpoint written by performer train")->required();
  sub.add_option("fasta", a->fasta, "sequences (FASTA, plain/gzip/bzip2, or - for stdin)")->required();
  sub.add_option("--out", a->out, "output folder")->required();
  sub.add_option("--layers", a->layers, "layers: 0 = embeddings, i = after block i, -1 = final output")
      ->delimiter(',')->capture_default_str();
  sub.add_option("--include", a->include, "per-token, mean, bos")->delimiter(',')
      ->check(CLI::IsMember({"per-token", "mean", "bos"}))->capture_default_str();
  sub.add_option("--unknown", a->unknown, "characters that are not residues: x, skip or error")
      ->check(CLI::IsMember({"x", "skip", "error"}))->capture_default_str();
  sub.add_option("--device", a->device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();
  sub.footer(
      "Writes OUT/index.tsv (row, id, length), OUT/mean.npy [N, layers, d] (mean over residues),\n"
      "OUT/bos.npy [N, layers, d] (the <cls> token) and OUT/per_token/ROW.npy [layers, L, d] (residues only),\n"
      "float32, for numpy.load. No length limit with rotary positions.");
  sub.callback([a, &global] {
    apply_global_options(global);
    run_embed(*a);
  });
}

}  // namespace performer::cli
