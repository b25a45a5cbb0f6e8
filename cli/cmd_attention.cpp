// performer attention: every layer's and head's attention map of one sequence, and contact scores.
#include <cstdio>
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

struct AttentionArgs {
  std::string model, sequence, out, device = "cpu";
};

void run_attention(const AttentionArgs& a) {
  namespace fs = std::filesystem;
  core::Checkpoint c = load_model(a.model, a.device);
  const bio::SequenceRecord record = first_record(a.sequence);
  const auto residues = bio::residue_tokens(record.sequence, bio::UnknownPolicy::error, a.sequence);
  const int64_t n = static_cast<int64_t>(residues.size());
  at::Tensor maps = core::attention_maps(c.model, bio::framed_tokens(residues)).to(at::kCPU);  // [Ly, H, L+2, L+2]
  at::Tensor body = maps.narrow(2, 1, n).narrow(3, 1, n).contiguous();                  // residues only
  make_folder(a.out);
  core::write_npy((fs::path(a.out) / "attention.npy").string(), body);
  core::write_npy((fs::path(a.out) / "contacts.npy").string(), core::contact_scores(body));
  std::ofstream json((fs::path(a.out) / "attention.json").string());
  const auto header = bio::parse_header(record.header);
  json << "{\n  \"id\": \"" << header.id << "\",\n  \"residues\": \"";
  for (int64_t t : residues) json << bio::Vocabulary::letter(static_cast<int32_t>(t));
  json << "\",\n  \"length\": " << n << ",\n  \"layers\": " << maps.size(0) << ",\n  \"heads\": " << maps.size(1)
       << ",\n  \"attention\": \"" << core::to_string(c.config.attention) << "\",\n  \"causal\": "
       << (c.config.causal() ? "true" : "false") << ",\n  \"model\": \"" << a.model
       << "\",\n  \"files\": {\"attention\": \"attention.npy\", \"contacts\": \"contacts.npy\"},\n"
       << "  \"attention_shape\": [\"layer\", \"head\", \"query\", \"key\"]\n}\n";
  std::cerr << "wrote " << a.out << "/attention.npy [" << maps.size(0) << ", " << maps.size(1) << ", " << n << ", " << n
            << "], contacts.npy and attention.json\n";
}

}  // namespace

void setup_attention(CLI::App& sub, const GlobalOptions& global) {
  auto a = std::make_shared<AttentionArgs>();
  sub.add_option("model", a->model, "checkpoint written by performer train")->required();
  sub.add_option("--sequence", a->sequence, "FASTA file whose first record is the sequence")->required();
  sub.add_option("--out", a->out, "output folder")->required();
  sub.add_option("--device", a->device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();
  sub.footer(
      "attention.npy [layers, heads, L, L] float32: row i holds the weights residue i gives to every residue (the\n"
      "matrix FAVOR applies implicitly, materialised here: O(L^2) memory per head). contacts.npy [L, L]: maps\n"
      "symmetrised, APC-corrected, averaged over layers and heads. attention.json names residues and sizes.");
  sub.callback([a, &global] {
    apply_global_options(global);
    run_attention(*a);
  });
}

}  // namespace performer::cli
