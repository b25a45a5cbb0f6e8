#include "bio/prepared.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "core/errors.h"
#include "io/checksum.h"
#include "io/file.h"

namespace performer::bio {

static_assert(std::endian::native == std::endian::little, "the shard format is little-endian");

namespace {

const Split kSplits[] = {Split::train, Split::valid, Split::test};

uint64_t read_u64(const char* at) {
  uint64_t v;
  std::memcpy(&v, at, sizeof v);
  return v;
}

}  // namespace

const std::vector<int64_t>& length_edges() {
  static const std::vector<int64_t> edges = {0, 50, 100, 200, 300, 500, 1000, 2000, 5000, 10000};
  return edges;
}

size_t length_bin(uint64_t length) {
  const auto& e = length_edges();
  size_t bin = 0;
  while (bin + 1 < e.size() && static_cast<int64_t>(length) >= e[bin + 1]) ++bin;
  return bin;
}

std::string length_range(size_t bin) {
  const auto& e = length_edges();
  if (bin + 1 < e.size()) return std::to_string(e[bin]) + "-" + std::to_string(e[bin + 1] - 1);
  std::string text = ">=";
  text.append(std::to_string(e[bin]));
  return text;
}

bool is_prepared(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_directory(path, ec) &&
         std::filesystem::is_regular_file(std::filesystem::path(path) / kManifest, ec);
}

struct PreparedData::Shard {
  std::string name;  // <dir>/<split>-NNNNN (without extension)
  io::MappedFile tok, idx, ids;
  uint64_t sequences = 0, residues = 0, id_bytes = 0;
  uint64_t first = 0;  // index in the split of its first sequence
  std::string crc_tok, crc_idx, crc_ids;

  const char* entry(uint64_t i) const { return idx.data() + kIndexHeader + kIndexEntry * i; }
  uint64_t token_end(uint64_t i) const { return read_u64(entry(i)); }
  uint64_t id_end(uint64_t i) const { return read_u64(entry(i) + 8); }
  [[noreturn]] void damaged(uint64_t i, const std::string& what) const {
    throw InputError(name + ".idx: sequence " + std::to_string(i) + ": " + what +
                     " (the shard is damaged: prepare the data again)");
  }
};

struct PreparedData::SplitShards {
  std::vector<Shard> shards;
  uint64_t sequences = 0, residues = 0;
};

PreparedData::PreparedData(const std::string& dir) : dir_(dir) {
  namespace fs = std::filesystem;
  const std::string manifest_path = (fs::path(dir) / kManifest).string();
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw InputError("'" + dir + "' is not a prepared data folder (no such folder)");
  if (!fs::is_regular_file(manifest_path, ec)) {
    throw InputError("'" + dir + "' is not a prepared data folder: it has no " + std::string(kManifest) +
                     " (an interrupted `performer data prepare` leaves none)");
  }
  manifest_ = io::parse_json(io::read_file(manifest_path), manifest_path);
  const auto bad = [&](const std::string& what) -> InputError { return InputError(manifest_path + ": " + what); };
  try {
    if (!manifest_.is_object() || manifest_.value("format", std::string()) != kPreparedFormat) {
      throw bad("not a performer prepared-data manifest");
    }
    const int version = manifest_.at("version").get<int>();
    if (version != kPreparedVersion) {
      throw bad("format version " + std::to_string(version) + ", this performer reads version " +
                std::to_string(kPreparedVersion) + ": prepare the data again");
    }
    if (vocabulary() != Vocabulary::kVersion) {
      throw bad("vocabulary '" + vocabulary() + "', this performer's is '" + std::string(Vocabulary::kVersion) + "'");
    }
    for (Split split : kSplits) {
      auto s = std::make_unique<SplitShards>();
      const io::Json& entry = manifest_.at("splits").at(to_string(split));
      for (const io::Json& m : entry.at("shards")) {
        Shard shard;
        const std::string name = m.at("name").get<std::string>();
        if (name.empty() || name.find('/') != std::string::npos || name.find("..") != std::string::npos) {
          throw bad("shard name '" + name + "' is not a file name");
        }
        shard.name = (fs::path(dir) / name).string();
        shard.sequences = m.at("sequences").get<uint64_t>();
        shard.residues = m.at("residues").get<uint64_t>();
        shard.id_bytes = m.at("id_bytes").get<uint64_t>();
        shard.crc_tok = m.at("crc32c").at("tok").get<std::string>();
        shard.crc_idx = m.at("crc32c").at("idx").get<std::string>();
        shard.crc_ids = m.at("crc32c").at("ids").get<std::string>();
        shard.tok = io::MappedFile(shard.name + ".tok");
        shard.idx = io::MappedFile(shard.name + ".idx");
        shard.ids = io::MappedFile(shard.name + ".ids");
        const auto wrong = [&](const std::string& ext, const std::string& what) {
          return InputError(shard.name + ext + ": " + what + " (truncated or damaged: prepare the data again)");
        };
        if (shard.idx.size() < kIndexHeader || shard.idx.view().substr(0, kIndexMagic.size()) != kIndexMagic) {
          throw wrong(".idx", "not a performer shard index");
        }
        if (read_u64(shard.idx.data() + 8) != shard.sequences || read_u64(shard.idx.data() + 16) != shard.residues ||
            read_u64(shard.idx.data() + 24) != shard.id_bytes) {
          throw wrong(".idx", "its header disagrees with the manifest");
        }
        if (shard.sequences > (shard.idx.size() - kIndexHeader) / kIndexEntry ||
            shard.idx.size() != kIndexHeader + kIndexEntry * shard.sequences) {
          throw wrong(".idx", std::to_string(shard.idx.size()) + " bytes, expected " +
                                  std::to_string(kIndexHeader + kIndexEntry * shard.sequences));
        }
        if (shard.tok.size() != shard.residues) {
          throw wrong(".tok", std::to_string(shard.tok.size()) + " bytes, expected " + std::to_string(shard.residues));
        }
        if (shard.ids.size() != shard.id_bytes) {
          throw wrong(".ids", std::to_string(shard.ids.size()) + " bytes, expected " + std::to_string(shard.id_bytes));
        }
        if (shard.sequences > 0 &&
            (shard.token_end(shard.sequences - 1) != shard.residues || shard.id_end(shard.sequences - 1) != shard.id_bytes)) {
          throw wrong(".idx", "its last entry does not end at the end of the data");
        }
        shard.tok.advise_random();
        shard.first = s->sequences;
        s->sequences += shard.sequences;
        s->residues += shard.residues;
        s->shards.push_back(std::move(shard));
      }
      if (s->sequences != entry.at("sequences").get<uint64_t>() || s->residues != entry.at("residues").get<uint64_t>()) {
        throw bad("the " + to_string(split) + " shards' counts disagree with the split's totals");
      }
      splits_.push_back(std::move(s));
    }
  } catch (const nlohmann::json::exception& e) {
    throw bad(std::string("malformed manifest (") + e.what() + ")");
  }
}

PreparedData::~PreparedData() = default;

std::string PreparedData::vocabulary() const { return manifest_.value("vocabulary", std::string()); }

uint64_t PreparedData::sequences(Split split) const { return splits_[static_cast<size_t>(split)]->sequences; }
uint64_t PreparedData::residues(Split split) const { return splits_[static_cast<size_t>(split)]->residues; }

const PreparedData::Shard& PreparedData::locate(Split split, uint64_t& i) const {
  const SplitShards& s = *splits_[static_cast<size_t>(split)];
  if (i >= s.sequences) {
    throw InputError(dir_ + ": sequence " + std::to_string(i) + " of the " + to_string(split) + " split, which has " +
                     std::to_string(s.sequences));
  }
  auto it = std::upper_bound(s.shards.begin(), s.shards.end(), i,
                             [](uint64_t value, const Shard& shard) { return value < shard.first; });
  const Shard& shard = *(it - 1);
  i -= shard.first;
  return shard;
}

std::string_view PreparedData::tokens(Split split, uint64_t i) const {
  const Shard& shard = locate(split, i);
  const uint64_t begin = i == 0 ? 0 : shard.token_end(i - 1), end = shard.token_end(i);
  if (begin > end || end > shard.residues) shard.damaged(i, "residue offsets out of order");
  return shard.tok.view().substr(begin, end - begin);
}

uint64_t PreparedData::length(Split split, uint64_t i) const { return tokens(split, i).size(); }

std::string_view PreparedData::id(Split split, uint64_t i) const {
  const Shard& shard = locate(split, i);
  const uint64_t begin = i == 0 ? 0 : shard.id_end(i - 1), end = shard.id_end(i);
  if (begin >= end || end > shard.id_bytes) shard.damaged(i, "id offsets out of order");
  return shard.ids.view().substr(begin, end - begin - 1);  // without its '\n'
}

std::string PreparedData::where(Split split, uint64_t i) const {
  const uint64_t global = i;
  const Shard& shard = locate(split, i);
  return shard.name + ".idx: " + to_string(split) + " sequence " + std::to_string(global) + " (" +
         std::to_string(i) + " of the shard)";
}

void PreparedData::verify(const std::function<void(uint64_t, uint64_t)>& progress) const {
  uint64_t total = 0, done = 0;
  for (const auto& s : splits_) {
    for (const Shard& shard : s->shards) total += shard.tok.size() + shard.idx.size() + shard.ids.size();
  }
  for (Split split : kSplits) {
    const SplitShards& s = *splits_[static_cast<size_t>(split)];
    std::vector<uint64_t> histogram(length_edges().size(), 0);
    for (const Shard& shard : s.shards) {
      const io::MappedFile* files[] = {&shard.tok, &shard.idx, &shard.ids};
      const std::string* sums[] = {&shard.crc_tok, &shard.crc_idx, &shard.crc_ids};
      for (int f = 0; f < 3; ++f) {
        files[f]->advise_sequential();
        const std::string crc = io::crc_hex(io::crc32c(0, files[f]->data(), files[f]->size()));
        if (crc != *sums[f]) {
          throw InputError(files[f]->path() + ": CRC-32C " + crc + ", the manifest says " + *sums[f] +
                           " (the file is damaged: prepare the data again)");
        }
        done += files[f]->size();
        if (progress) progress(done, total);
      }
      uint64_t token_begin = 0, id_begin = 0;
      for (uint64_t i = 0; i < shard.sequences; ++i) {
        const uint64_t token_end = shard.token_end(i), id_end = shard.id_end(i);
        if (token_end <= token_begin || token_end > shard.residues) shard.damaged(i, "residue offsets out of order");
        if (id_end <= id_begin || id_end > shard.id_bytes || shard.ids.data()[id_end - 1] != '\n') {
          shard.damaged(i, "id offsets out of order");
        }
        ++histogram[length_bin(token_end - token_begin)];
        token_begin = token_end;
        id_begin = id_end;
      }
      const auto* bytes = reinterpret_cast<const unsigned char*>(shard.tok.data());
      for (uint64_t k = 0; k < shard.residues; ++k) {
        if (bytes[k] < Vocabulary::kFirstResidue || bytes[k] >= Vocabulary::kSize) {
          throw InputError(shard.name + ".tok: byte " + std::to_string(k) + " is " + std::to_string(bytes[k]) +
                           ", not a residue id (the shard is damaged: prepare the data again)");
        }
      }
      shard.tok.advise_random();
    }
    try {
      const io::Json& stated = manifest_.at("splits").at(to_string(split)).at("length_histogram");
      if (stated.get<std::vector<uint64_t>>() != histogram) {
        throw InputError(dir_ + "/" + std::string(kManifest) + ": the " + to_string(split) +
                         " length histogram disagrees with the shards");
      }
    } catch (const nlohmann::json::exception& e) {
      throw InputError(dir_ + "/" + std::string(kManifest) + ": malformed manifest (" + e.what() + ")");
    }
  }
}

}  // namespace performer::bio
