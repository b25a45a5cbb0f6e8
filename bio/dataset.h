#pragma once
// From FASTA files to model batches: filters, a deterministic split by accession, crops or
// concatenated windows, masked-LM and autoregressive batches of padded LibTorch tensors, bucketed by
// length, built on a prefetch thread.
#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "bio/header.h"
#include "bio/split.h"
#include "bio/vocabulary.h"
#include "core/batch.h"
#include "core/settings.h"

namespace performer::bio {

struct Example {
  std::string id;                // first word of the header
  std::string accession;         // as parsed from the header
  std::vector<int32_t> residues;  // vocabulary ids, no specials
};

struct ReadOptions {
  FilterOptions filter;
  SplitOptions split;
  std::optional<Split> only;                     // keep only this split; none: all records
  UnknownPolicy unknown = UnknownPolicy::error;  // characters that are not residues
};

struct ReadCounts {
  uint64_t records = 0;          // records read (non-empty sequences)
  uint64_t kept = 0;             // returned
  uint64_t filtered = 0;         // dropped by FilterOptions
  uint64_t other_split = 0;      // in another split than `only`
  uint64_t unknown_skipped = 0;  // dropped under --unknown=skip
  uint64_t empty_skipped = 0;    // records with an empty sequence
  uint64_t residues = 0;         // residues returned
};

// Streams the examples of one FASTA file (plain, gzip, bzip2 or "-"), in file order.
class ExampleReader {
 public:
  ExampleReader(const std::string& path, ReadOptions options);
  ~ExampleReader();
  bool next(Example& example);  // false at the end; throws InputError (file, record, position)
  const ReadCounts& counts() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// <cls> residues <eos>, cropped at a random offset to at most max_length tokens in all.
std::vector<int32_t> frame(const std::vector<int32_t>& residues, int64_t max_length, std::mt19937_64& rng);

// Packs sequences into windows of exactly `length` tokens, <cls> s1 <eos> s2 <eos> ..., cutting
// sequences at window ends and continuing them in the next window (the paper's long-context runs).
class WindowPacker {
 public:
  explicit WindowPacker(int64_t length);
  void add(const std::vector<int32_t>& residues);  // appends a sequence and its separator
  bool next(std::vector<int32_t>& window);         // a full window, if one is ready
  bool flush(std::vector<int32_t>& window);        // the last partial window, if any

 private:
  int64_t length_;
  std::vector<int32_t> pending_;
};

using Batch = core::TokenBatch;

struct MaskingOptions {
  double fraction = 0.15;  // share of residue positions selected for prediction
  double mask = 0.8;       // of those: replaced by <mask>
  double random = 0.1;     // of those: replaced by a random standard residue; the rest stay as they are
};

// Masked-LM batch: rows are framed token lists (specials are never selected). Every row has at least
// one selected position.
Batch make_mlm_batch(const std::vector<std::vector<int32_t>>& rows, const MaskingOptions& options,
                     std::mt19937_64& rng);
// Autoregressive batch: inputs row[0 .. n-2], targets row[1 .. n-1].
Batch make_ar_batch(const std::vector<std::vector<int32_t>>& rows);

using core::Objective;

struct LoaderOptions {
  Objective objective = Objective::mlm;
  int64_t max_length = 1024;          // tokens per row, specials included
  bool concatenate = false;           // pack into windows of max_length instead of cropping
  int64_t tokens_per_batch = 16384;   // B x L (after padding) stays under this
  int64_t pool = 4096;                // rows sorted by length together, then cut into batches
  int prefetch = 4;                   // batches built ahead on the loader thread
  bool shuffle = true;                // shuffle batches within a pool (train); false: file order
  uint64_t seed = 0;                  // crops, masking and shuffling
  MaskingOptions masking;
};

// Batches of one pass over a file, built on a background thread. Deterministic for a seed.
class BatchLoader : public core::BatchSource {
 public:
  BatchLoader(const std::string& path, ReadOptions read, LoaderOptions options, uint64_t epoch = 0);
  ~BatchLoader() override;
  bool next(Batch& batch) override;  // false at the end of the pass; rethrows the thread's InputError
  ReadCounts counts() const;   // after the pass ended

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class PreparedData;

// Batches of one epoch of a prepared split (bio/prepared.h), in the order of bio/epoch.h: a seeded
// global permutation, bucketed by length within windows of options.pool sequences; worker `rank` of
// `world` gets every world-th batch of the global stream. Crops and masking are seeded by
// (seed, epoch, sequence or batch), so the batches do not depend on the number of workers, and
// skip(n) starts at batch n of the global stream without building the batches before it.
class PreparedLoader : public core::BatchSource {
 public:
  PreparedLoader(std::shared_ptr<const PreparedData> data, Split split, LoaderOptions options, uint64_t epoch = 0,
                 int64_t rank = 0, int64_t world = 1);
  ~PreparedLoader() override;
  bool next(Batch& batch) override;  // rethrows the loader thread's InputError (a damaged shard)
  void skip(int64_t batches) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace performer::bio
