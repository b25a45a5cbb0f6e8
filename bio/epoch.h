#pragma once
// The order of one epoch over a prepared split: a seeded global permutation of every sequence, cut
// into windows in which rows are bucketed by length and packed into batches under a token budget.
// The batches form one global stream per epoch, the same whatever the number of workers; worker r
// of w takes the batches whose index is r modulo w. A position in the stream (epoch, batch index)
// is all a resumed run needs, on any number of workers. Standard library only.
#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <vector>

namespace performer::bio {

// A seeded bijection of [0, n), computed rather than stored: O(1) memory and random access for
// hundreds of millions of sequences. A four-round Feistel network over the smallest even power of
// two at least n, with cycle walking back into [0, n).
class Permutation {
 public:
  Permutation(uint64_t n, uint64_t seed);
  uint64_t operator()(uint64_t i) const;  // i < n
  uint64_t size() const { return n_; }

 private:
  uint64_t round_trip(uint64_t x) const;
  uint64_t n_;
  int half_bits_ = 1;
  uint64_t half_mask_ = 1;
  std::array<uint64_t, 4> keys_{};
};

// A stretch of one sequence in a row: residues [start, start + length), then <eos> if eos.
struct Piece {
  uint64_t sequence = 0;  // index in the split
  uint32_t start = 0;
  uint32_t length = 0;
  bool eos = true;
};

// One row: <cls>, then its pieces. A cropped sequence is one piece; a --concat-length window packs
// pieces of consecutive sequences of the permutation.
struct PlannedRow {
  std::vector<Piece> pieces;
  int64_t tokens = 0;  // <cls> + residues + separators
};

struct PlannedBatch {
  uint64_t index = 0;   // in the epoch's global stream of batches
  uint64_t window = 0;  // window of the permutation it was cut from
  uint64_t first = 0;   // index in the permutation of the window's first sequence
  std::vector<PlannedRow> rows;
  int64_t tokens() const;  // sum of the rows' tokens (no padding)
  int64_t width() const;   // the longest row
};

struct PlanOptions {
  int64_t max_length = 1024;        // tokens per row, specials included
  bool concatenate = false;         // pack sequences into rows of exactly max_length
  int64_t tokens_per_batch = 16384; // rows x longest row stays under this
  int64_t window = 4096;            // sequences of the permutation bucketed by length together
  bool shuffle = true;              // permute sequences and shuffle batches within windows; false: file order
  uint64_t seed = 0;
  int64_t rank = 0;                 // this worker, of
  int64_t world = 1;                // this many
};

// The crop start of a sequence of `length` residues in a row of max_length tokens: a hash of
// (seed, epoch, sequence), so it does not depend on the batching or on the worker.
uint32_t crop_start(uint64_t length, int64_t max_length, uint64_t seed, uint64_t epoch, uint64_t sequence);

// A seed for what happens inside one batch (masking): (seed, epoch, batch index).
uint64_t batch_seed(uint64_t seed, uint64_t epoch, uint64_t batch);

class EpochPlan {
 public:
  using Lengths = std::function<uint64_t(uint64_t sequence)>;
  // sequences: the split's size; length(i): residues of sequence i.
  EpochPlan(uint64_t sequences, Lengths length, PlanOptions options, uint64_t epoch);

  // Continues at this batch of the global stream (batches before it, of every worker, are skipped
  // without reading any residue).
  void seek(uint64_t batch);
  // This worker's next batch; false at the end of the epoch.
  bool next(PlannedBatch& batch);
  // Batches of the global stream before the next one this worker would see.
  uint64_t position() const { return next_index_; }
  // Every batch of the epoch, all workers (plans the whole epoch; for tests and reports).
  static uint64_t count(uint64_t sequences, const Lengths& length, const PlanOptions& options, uint64_t epoch);

 private:
  bool plan_window();  // appends the next window's batches to pending_; false when none is left
  uint64_t sequences_;
  Lengths length_;
  PlanOptions options_;
  uint64_t epoch_;
  Permutation permutation_;
  uint64_t window_ = 0;      // next window to plan
  uint64_t planned_ = 0;     // global batches planned so far
  uint64_t next_index_ = 0;  // global index of the next batch to hand out (or skip)
  std::deque<PlannedBatch> pending_;
};

}  // namespace performer::bio
