// performer attention: every layer's and head's attention map of one sequence, and contact scores.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "bio/header.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "cli/model_io.h"
#include "core/analysis.h"
#include "core/errors.h"
#include "io/file.h"
#include "io/json.h"
#include "io/tensor_npy.h"
#include "tools/memory.h"

namespace performer::cli {
namespace {

struct AttentionArgs {
  std::string model, sequence, out, device = "cpu";
};

void run_attention(const AttentionArgs& a) {
  refuse_overwriting("--out", a.out, {a.model, a.sequence});
  core::Checkpoint c = load_model(a.model, a.device);
  const bio::SequenceRecord record = first_record(a.sequence);
  const auto residues = bio::residue_tokens(record.sequence, bio::UnknownPolicy::error, a.sequence);
  const int64_t n = static_cast<int64_t>(residues.size());
  tools::require_memory(core::attention_maps_bytes(c.config, n + 2),
                        "the attention of " + std::to_string(n) + " residues (layers x heads x L x L floats)");
  at::Tensor maps = core::attention_maps(c.model, bio::framed_tokens(residues)).to(at::kCPU);  // [Ly, H, L+2, L+2]
  at::Tensor body = maps.narrow(2, 1, n).narrow(3, 1, n).contiguous();                  // residues only
  io::AtomicFolder folder(a.out);
  io::write_npy(folder.file("attention.npy"), body);
  io::write_npy(folder.file("contacts.npy"), core::contact_scores(body));
  std::string letters;
  for (int64_t t : residues) letters += bio::Vocabulary::letter(static_cast<int32_t>(t));
  io::Json json;
  json["id"] = bio::parse_header(record.header).id;
  json["residues"] = letters;
  json["length"] = n;
  json["layers"] = maps.size(0);
  json["heads"] = maps.size(1);
  json["attention"] = core::to_string(c.config.attention);
  json["causal"] = c.config.causal();
  json["model"] = a.model;
  json["files"] = {{"attention", "attention.npy"}, {"contacts", "contacts.npy"}};
  json["attention_shape"] = {"layer", "head", "query", "key"};
  io::write_file(folder.file("attention.json"), io::to_text(json) + "\n");
  folder.commit();
  std::cerr << "wrote " << a.out << "/attention.npy [" << maps.size(0) << ", " << maps.size(1) << ", " << n << ", " << n
            << "], contacts.npy and attention.json\n";
}

}  // namespace

void setup_attention(CLI::App& sub, const GlobalOptions& global) {
  auto a = std::make_shared<AttentionArgs>();
  sub.add_option("model", a->model, "checkpoint written by performer train")->required();
  sub.add_option("--sequence", a->sequence, "FASTA file whose first record is the sequence")->required();
  sub.add_option("--out", a->out, "output folder")->required();
  add_device_option(sub, a->device);
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
