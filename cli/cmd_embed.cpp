// performer embed: per-token, mean and <cls> embeddings as .npy arrays, with an index TSV.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "bio/header.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "cli/progress.h"
#include "cli/model_io.h"
#include "core/analysis.h"
#include "core/errors.h"
#include "io/file.h"
#include "io/table.h"
#include "io/tensor_npy.h"

namespace performer::cli {
namespace {

struct EmbedArgs {
  std::string model, fasta, out, device = "cpu";
  bio::UnknownPolicy unknown = bio::UnknownPolicy::error;
  std::vector<int64_t> layers = {-1};
  std::vector<std::string> include = {"mean"};
};

void run_embed(const EmbedArgs& a) {
  refuse_overwriting("--out", a.out, {a.model, a.fasta});
  core::Checkpoint c = load_model(a.model, a.device);
  const auto policy = a.unknown;
  const bool per_token = std::count(a.include.begin(), a.include.end(), "per-token") > 0;
  const bool mean = std::count(a.include.begin(), a.include.end(), "mean") > 0;
  const bool bos = std::count(a.include.begin(), a.include.end(), "bos") > 0;
  // Everything goes to a temporary folder that replaces OUT only when the last file is written.
  io::AtomicFolder folder(a.out);
  if (per_token) make_folder(folder.file("per_token"));
  io::Table index;
  index.header = {"row", "id", "length"};
  if (per_token) index.header.push_back("per_token_file");
  std::vector<at::Tensor> means, cls;
  bio::FastaReader reader(a.fasta);
  bio::SequenceRecord r;
  int64_t row = 0;
  Progress progress("embedded", "sequences");
  while (reader.next(r)) {
    progress.update(static_cast<double>(row));
    const auto residues = bio::residue_tokens(r.sequence, policy, reader.where(r));
    if (residues.empty()) continue;
    at::Tensor h = core::hidden_states(c.model, bio::framed_tokens(residues), a.layers).to(at::kCPU);  // [layers, L+2, d]
    at::Tensor body = h.narrow(1, 1, static_cast<int64_t>(residues.size()));                  // residues only
    index.rows.push_back({std::to_string(row), bio::parse_header(r.header).id, std::to_string(residues.size())});
    if (per_token) {
      const std::string file = "per_token/" + std::to_string(row) + ".npy";
      io::write_npy(folder.file(file), body);
      index.rows.back().push_back(file);
    }
    if (mean) means.push_back(body.mean(1));  // [layers, d]
    if (bos) cls.push_back(h.select(1, 0));   // [layers, d]
    ++row;
  }
  if (mean) io::write_npy(folder.file("mean.npy"), at::stack(means));  // [N, layers, d]
  if (bos) io::write_npy(folder.file("bos.npy"), at::stack(cls));
  io::write_file(folder.file("index.tsv"), index.tsv());
  folder.commit();
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
  add_unknown_option(sub, a->unknown);
  add_device_option(sub, a->device);
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
