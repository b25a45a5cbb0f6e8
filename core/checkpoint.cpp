#include "core/checkpoint.h"

#include <torch/serialize.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string_view>
#include <vector>

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

// Integrity: a checkpoint is a zip archive (LibTorch's format), whose end-of-central-directory record
// (the last 22 bytes when it has no comment) may carry a comment that zip readers skip. The writer
// puts a 64-bit FNV-1a checksum of every byte before the comment there (with the record's
// comment-length field counted as 0), and the reader checks it before trusting anything in the file.
// Checkpoints without it (older ones) are read as before.
constexpr std::string_view kChecksumTag = "performer-fnv1a64:";
constexpr size_t kEndRecord = 22;              // zip end-of-central-directory record without comment
constexpr size_t kCommentLengthAt = 20;        // its comment-length field (2 bytes, little endian)
constexpr size_t kComment = kChecksumTag.size() + 16;  // the tag and 16 hex digits

struct Fnv1a {
  uint64_t hash = 1469598103934665603ull;
  void add(const char* data, size_t bytes) {
    for (size_t i = 0; i < bytes; ++i) {
      hash ^= static_cast<unsigned char>(data[i]);
      hash *= 1099511628211ull;
    }
  }
  std::string hex() const {
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
    return text;
  }
};

bool is_end_record(std::string_view record) {
  return record.size() == kEndRecord && record.substr(0, 4) == std::string_view("PK\x05\x06", 4);
}

void verify_checksum(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(0, std::ios::end);
  const auto size = static_cast<size_t>(std::max<std::streamoff>(0, in.tellg()));
  if (!in || size < kEndRecord + kComment) return;
  std::string end(kEndRecord + kComment, '\0');
  in.seekg(static_cast<std::streamoff>(size - end.size()));
  in.read(end.data(), static_cast<std::streamsize>(end.size()));
  std::string record = end.substr(0, kEndRecord);
  const std::string comment = end.substr(kEndRecord);
  if (!in || comment.compare(0, kChecksumTag.size(), kChecksumTag) != 0 || !is_end_record(record)) return;
  record[kCommentLengthAt] = record[kCommentLengthAt + 1] = '\0';
  Fnv1a sum;
  in.seekg(0);
  std::vector<char> buffer(1 << 20);
  for (size_t left = size - end.size(); left > 0;) {
    const size_t n = std::min(left, buffer.size());
    if (!in.read(buffer.data(), static_cast<std::streamsize>(n))) break;
    sum.add(buffer.data(), n);
    left -= n;
  }
  sum.add(record.data(), record.size());
  if (!in || sum.hex() != comment.substr(kChecksumTag.size())) {
    throw InputError("checkpoint '" + path + "' is damaged: its checksum does not match its contents");
  }
}

torch::serialize::InputArchive open_archive(const std::string& path, const torch::Device& device) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw InputError("checkpoint '" + path + "' does not exist or is not a file");
  }
  verify_checksum(path);
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
  // The last 22 bytes are held back: they become the end record that carries the checksum.
  io::AtomicFile file(path, /*durable=*/true);
  std::ostream& out = file.stream();
  Fnv1a sum;
  std::string tail;
  archive.save_to([&](const void* data, size_t bytes) -> size_t {
    tail.append(static_cast<const char*>(data), bytes);
    if (tail.size() > kEndRecord) {
      const size_t n = tail.size() - kEndRecord;
      out.write(tail.data(), static_cast<std::streamsize>(n));
      sum.add(tail.data(), n);
      tail.erase(0, n);
    }
    return bytes;
  });
  if (is_end_record(tail) && tail[kCommentLengthAt] == 0 && tail[kCommentLengthAt + 1] == 0) {
    sum.add(tail.data(), tail.size());
    tail[kCommentLengthAt] = static_cast<char>(kComment & 0xff);
    tail[kCommentLengthAt + 1] = static_cast<char>(kComment >> 8);
    tail += std::string(kChecksumTag) + sum.hex();
  }
  out.write(tail.data(), static_cast<std::streamsize>(tail.size()));
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
  // A run that diverged may have saved weights that are not numbers; every score from them would be NaN.
  for (const auto& item : c.model->named_parameters()) {
    if (!at::isfinite(item.value()).all().item<bool>()) {
      throw InputError("'" + path + "' holds weights that are not finite numbers (NaN or infinity) in " + item.key() +
                       ": the run that wrote it diverged; use an earlier checkpoint");
    }
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
