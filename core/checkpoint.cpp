#include "core/checkpoint.h"

#include <torch/serialize.h>

#include <filesystem>

#include "core/errors.h"
#include "core/muon.h"
#include "io/file.h"

namespace performer::core {
namespace {

void write_int(torch::serialize::OutputArchive& a, const std::string& key, int64_t v) {
  a.write(key, torch::tensor(v, torch::kLong));
}
int64_t read_int(torch::serialize::InputArchive& a, const std::string& key) {
  torch::Tensor t;
  a.read(key, t);
  return t.item<int64_t>();
}
void write_double(torch::serialize::OutputArchive& a, const std::string& key, double v) {
  a.write(key, torch::tensor(v, torch::kDouble));
}
double read_double(torch::serialize::InputArchive& a, const std::string& key) {
  torch::Tensor t;
  a.read(key, t);
  return t.item<double>();
}

torch::serialize::InputArchive open_archive(const std::string& path, const torch::Device& device) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw InputError("checkpoint '" + path + "' does not exist or is not a file");
  }
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path, device);
  } catch (const c10::Error& e) {
    throw InputError("'" + path + "' is not a performer checkpoint (cannot be read as one)");
  }
  return archive;
}

}  // namespace

void save_checkpoint(const std::string& path, ProteinLM& model, const TrainState& state,
                     torch::optim::Optimizer* optimizer) {
  torch::serialize::OutputArchive archive;
  archive.write("format", torch::tensor(int64_t{1}));
  archive.write("config", c10::IValue(model->config.to_json()));
  torch::serialize::OutputArchive weights;
  model->save(weights);
  archive.write("model", weights);
  if (optimizer) {
    torch::serialize::OutputArchive opt;
    optimizer->save(opt);
    archive.write("optimizer", opt);
  }
  write_int(archive, "state/step", state.step);
  write_int(archive, "state/epoch", state.epoch);
  write_int(archive, "state/batches_in_epoch", state.batches_in_epoch);
  write_int(archive, "state/tokens", state.tokens);
  write_double(archive, "state/seconds", state.seconds);
  write_double(archive, "state/best_valid_loss", state.best_valid_loss);
  // Through the atomic writer: the previous checkpoint stays whole until the new one is complete
  // and synced. The archive's writer is never told of a failed write (LibTorch would throw from a
  // destructor and terminate): the stream remembers it, and commit() reports it with the OS reason.
  io::AtomicFile file(path, /*durable=*/true);
  std::ostream& out = file.stream();
  archive.save_to([&out](const void* data, size_t bytes) -> size_t {
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
    return bytes;
  });
  file.commit();
}

Checkpoint load_checkpoint(const std::string& path, const std::string& vocabulary, const torch::Device& device) {
  torch::serialize::InputArchive archive = open_archive(path, device);
  Checkpoint c;
  c10::IValue config;
  if (!archive.try_read("config", config) || !config.isString()) {
    throw InputError("'" + path + "' is not a performer checkpoint (no config)");
  }
  c.config = ModelConfig::from_json(config.toStringRef());
  if (!vocabulary.empty() && c.config.vocabulary != vocabulary) {
    throw ConfigError("checkpoint '" + path + "' uses vocabulary '" + c.config.vocabulary +
                      "', this build reads '" + vocabulary + "'");
  }
  c.model = ProteinLM(c.config);
  try {
    torch::serialize::InputArchive weights;
    archive.read("model", weights);
    c.model->load(weights);
  } catch (const c10::Error&) {
    throw InputError("'" + path + "' is not a performer checkpoint (its weights do not match its config)");
  }
  c.model->to(device);
  c.state.step = read_int(archive, "state/step");
  c.state.epoch = read_int(archive, "state/epoch");
  c.state.batches_in_epoch = read_int(archive, "state/batches_in_epoch");
  c.state.tokens = read_int(archive, "state/tokens");
  c.state.seconds = read_double(archive, "state/seconds");
  c.state.best_valid_loss = read_double(archive, "state/best_valid_loss");
  return c;
}

void load_optimizer(const std::string& path, torch::optim::Optimizer& optimizer, const torch::Device& device) {
  torch::serialize::InputArchive archive = open_archive(path, device);
  torch::serialize::InputArchive opt;
  if (!archive.try_read("optimizer", opt)) throw InputError("checkpoint '" + path + "' holds no optimiser state");
  // Tell the optimisers apart before loading: AdamW would warn about an "old format" before failing.
  at::Tensor muon_matrices;
  if (opt.try_read("muon/matrices", muon_matrices) != (dynamic_cast<Muon*>(&optimizer) != nullptr)) {
    throw InputError("checkpoint '" + path + "' holds the state of another optimiser", "optimizer");
  }
  try {
    optimizer.load(opt);
  } catch (const c10::Error&) {
    throw InputError("checkpoint '" + path + "' holds optimiser state that does not fit this model");
  }
}

}  // namespace performer::core
