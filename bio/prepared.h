#pragma once
// Prepared data: FASTA tokenized once into memory-mapped shards, for UniRef/TrEMBL-sized training.
//
// Format version 2. A prepared folder holds, for each split (train, valid, test), shards named <split>-<NNNNN> of three
// files: .tok (one byte per residue: its vocabulary id, sequences back to back), .idx (a 32-byte
// header, then for each sequence the end offsets of its residues in .tok and of its id in .ids, two
// little-endian uint64) and .ids (ids, each followed by '\n'); and manifest.json, written last, with
// the vocabulary version, the options, the inputs (sizes, CRC-32C), counts, length histograms and
// each shard's sizes and CRC-32C. docs/data.md describes the format. Standard library only.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bio/split.h"
#include "bio/vocabulary.h"
#include "io/json.h"
#include "io/mapped_file.h"

namespace performer::bio {

constexpr std::string_view kPreparedFormat = "performer-prepared";
constexpr int kPreparedVersion = 2;  // 2: CRC-32C checksums (1 had zlib CRC-32)
constexpr std::string_view kIndexMagic = "PRFIDX1\n";  // 8 bytes, first in every .idx
constexpr size_t kIndexHeader = 32;                    // magic, sequences, residues, id bytes
constexpr size_t kIndexEntry = 16;                     // residue end, id end
constexpr std::string_view kManifest = "manifest.json";

// Length histogram edges (residues) of `data stats` and the manifest.
const std::vector<int64_t>& length_edges();
size_t length_bin(uint64_t length);
std::string length_range(size_t bin);  // "0-49", ">=10000"

struct PrepareOptions {
  std::vector<std::string> inputs;          // FASTA files (plain, gzip, bzip2) or "-"
  std::string out;                          // the folder
  FilterOptions filter;
  SplitOptions split;
  UnknownPolicy unknown = UnknownPolicy::error;
  uint64_t shard_bytes = uint64_t{1} << 30;  // residues per shard (bytes of .tok), at most
  bool force = false;                        // replace an existing folder
};

struct PrepareProgress {
  uint64_t input_bytes = 0;  // raw bytes read, all inputs
  uint64_t total_bytes = 0;  // sum of the inputs' sizes (0 when unknown: stdin)
  uint64_t sequences = 0;    // kept so far
};

struct PrepareReport {
  uint64_t records = 0, kept = 0, filtered = 0, unknown_skipped = 0, empty_skipped = 0;
  uint64_t residues = 0;
  uint64_t input_bytes = 0, text_bytes = 0;  // raw and decompressed
  uint64_t shards = 0;
  uint64_t sequences[3] = {0, 0, 0};  // by Split
  double seconds = 0;
  std::vector<std::string> removed_stale;  // temporaries of killed runs that were swept
};

// Reads the inputs once (streaming: memory is the input buffers and the longest record, whatever
// the size of the data) and writes the folder atomically: everything goes to <out>.tmp.XXXXXX,
// manifest.json last, and the folder is renamed into place only when complete. A killed run leaves
// a temporary that the next run removes. InputError for bad input (nothing left behind);
// ConfigError when out exists and force is not set.
PrepareReport prepare(const PrepareOptions& options, const std::function<void(const PrepareProgress&)>& progress = {});

// Whether path is a folder with a manifest.json (a prepared folder, complete or damaged).
bool is_prepared(const std::string& path);

// A prepared folder, mapped. Opening checks the manifest (format, version, vocabulary) and every
// shard's header and sizes against it: O(shards), no pass over the data. Any access is bounds-checked,
// so a damaged index gives an InputError naming the file, never a read outside the mapping.
class PreparedData {
 public:
  explicit PreparedData(const std::string& dir);
  ~PreparedData();
  PreparedData(const PreparedData&) = delete;
  PreparedData& operator=(const PreparedData&) = delete;

  const std::string& path() const { return dir_; }
  const io::Json& manifest() const { return manifest_; }
  std::string vocabulary() const;

  uint64_t sequences(Split split) const;
  uint64_t residues(Split split) const;
  uint64_t length(Split split, uint64_t i) const;  // residues of sequence i
  // Residue token ids of sequence i (bytes; Vocabulary ids).
  std::string_view tokens(Split split, uint64_t i) const;
  std::string_view id(Split split, uint64_t i) const;
  // "<dir>/train-00003.idx: sequence 17" for messages.
  std::string where(Split split, uint64_t i) const;

  // A full pass: CRC-32C of every file against the manifest, offsets increasing, every token a
  // residue id, counts and histograms as stated. progress(bytes done, bytes in all). InputError with
  // the first problem, naming the file.
  void verify(const std::function<void(uint64_t, uint64_t)>& progress = {}) const;

 private:
  struct Shard;
  struct SplitShards;
  const Shard& locate(Split split, uint64_t& i) const;
  std::string dir_;
  io::Json manifest_;
  std::vector<std::unique_ptr<SplitShards>> splits_;
};

}  // namespace performer::bio
