// libFuzzer target: the prepared-data reader (bio/prepared.h) on a shard it did not write. The input
// is one train shard: two bytes give the length of its .idx part, the rest is .tok. The harness
// writes a manifest that agrees with whatever the .idx header claims (with true CRC-32Cs), so opening
// gets past the size checks and every access and verify() meet the fuzzed offsets. Any input may be
// rejected with InputError; a read outside the mapping (ASan) or any other exception is a bug.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "bio/prepared.h"
#include "core/errors.h"
#include "io/checksum.h"
#include "io/json.h"

namespace {

std::string crc_hex(const std::string& bytes) {
  return performer::io::crc_hex(performer::io::crc32c(0, bytes.data(), bytes.size()));
}

uint64_t header_field(const std::string& idx, size_t at) {
  uint64_t v = 0;
  if (idx.size() >= at + 8) std::memcpy(&v, idx.data() + at, 8);
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  using namespace performer;
  namespace fs = std::filesystem;
  static const std::string dir = "fuzz-prepared-" + std::to_string(::getpid());
  fs::create_directories(dir);
  const size_t idx_size = std::min<size_t>(size - 2, static_cast<size_t>(data[0]) | (static_cast<size_t>(data[1]) << 8));
  const std::string idx(reinterpret_cast<const char*>(data) + 2, idx_size);
  const std::string tok(reinterpret_cast<const char*>(data) + 2 + idx_size, size - 2 - idx_size);
  const uint64_t sequences = header_field(idx, 8), residues = header_field(idx, 16);
  const uint64_t id_bytes = std::min<uint64_t>(header_field(idx, 24), 1 << 16);
  std::string ids(id_bytes, 'a');
  for (size_t i = 1; i < ids.size(); i += 2) ids[i] = '\n';
  std::ofstream(dir + "/train-00000.idx", std::ios::binary | std::ios::trunc) << idx;
  std::ofstream(dir + "/train-00000.tok", std::ios::binary | std::ios::trunc) << tok;
  std::ofstream(dir + "/train-00000.ids", std::ios::binary | std::ios::trunc) << ids;
  io::Json shard = {{"name", "train-00000"}, {"sequences", sequences}, {"residues", residues}, {"id_bytes", id_bytes},
                    {"crc32c", {{"tok", crc_hex(tok)}, {"idx", crc_hex(idx)}, {"ids", crc_hex(ids)}}}};
  const io::Json no_shards = {{"sequences", 0}, {"residues", 0}, {"length_histogram", io::Json::array()},
                              {"shards", io::Json::array()}};
  std::vector<uint64_t> histogram(bio::length_edges().size(), 0);
  io::Json manifest = {{"format", bio::kPreparedFormat},
                       {"version", bio::kPreparedVersion},
                       {"vocabulary", bio::Vocabulary::kVersion},
                       {"splits",
                        {{"train", {{"sequences", sequences}, {"residues", residues}, {"length_histogram", histogram},
                                    {"shards", io::Json::array({shard})}}},
                         {"valid", no_shards},
                         {"test", no_shards}}}};
  std::ofstream(dir + "/manifest.json", std::ios::trunc) << io::to_text(manifest);
  try {
    bio::PreparedData prepared(dir);
    const uint64_t n = std::min<uint64_t>(prepared.sequences(bio::Split::train), 4096);
    for (uint64_t i = 0; i < n; ++i) {
      try {
        (void)prepared.tokens(bio::Split::train, i);
        (void)prepared.id(bio::Split::train, i);
      } catch (const InputError&) {
      }
    }
    prepared.verify();
  } catch (const InputError&) {
  }
  return 0;
}
