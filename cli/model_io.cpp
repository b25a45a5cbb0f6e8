#include "cli/model_io.h"

#include <torch/cuda.h>

#include <filesystem>

#include "core/errors.h"

namespace performer::cli {

core::Checkpoint load_model(const std::string& path, const std::string& device) {
  if (device == "cuda" && !torch::cuda::is_available()) {
    throw ConfigError("--device cuda: this LibTorch has no CUDA device available");
  }
  core::Checkpoint c = core::load_checkpoint(path, std::string(bio::Vocabulary::kVersion), torch::Device(device));
  c.model->eval();
  return c;
}

std::vector<int64_t> residue_tokens(const std::string& sequence, bio::UnknownPolicy policy, const std::string& where) {
  std::vector<int32_t> ids;
  if (!bio::Vocabulary::encode(sequence, policy, ids, where)) return {};
  return {ids.begin(), ids.end()};
}

std::vector<int64_t> framed_tokens(const std::vector<int64_t>& residues) {
  std::vector<int64_t> t = {bio::Vocabulary::kCls};
  t.insert(t.end(), residues.begin(), residues.end());
  t.push_back(bio::Vocabulary::kEos);
  return t;
}

bio::SequenceRecord first_record(const std::string& path) {
  bio::FastaReader reader(path);
  bio::SequenceRecord r;
  if (!reader.next(r)) throw InputError("'" + path + "' holds no sequence");
  return r;
}

void make_folder(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec || !std::filesystem::is_directory(path)) throw InputError("cannot create folder '" + path + "'");
}

}  // namespace performer::cli
