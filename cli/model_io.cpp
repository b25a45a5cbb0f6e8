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
