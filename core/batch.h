#pragma once
// What a language model trains on: padded token batches, and a source that yields them.
#include <ATen/ATen.h>

#include <cstdint>
#include <memory>

namespace performer::core {

struct TokenBatch {
  at::Tensor tokens;   // [B, L] int64 model inputs
  at::Tensor targets;  // [B, L] int64 labels, kIgnoreIndex (core/tokens.h) where there is no loss
  at::Tensor padding;  // [B, L] bool, true on padding positions
  int64_t target_count = 0;  // positions with a label
};

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual bool next(TokenBatch& batch) = 0;  // false when the source is exhausted
  // Passes over the next `batches` batches (a resumed run's position). Sources that can seek
  // override it; this one reads and drops them.
  virtual void skip(int64_t batches) {
    TokenBatch dropped;
    for (int64_t i = 0; i < batches && next(dropped); ++i) {
    }
  }
};

// Rank `rank` of `world`'s part of a source: every world-th batch, starting at its rank. skip(n)
// passes over n batches of the whole stream (all ranks'), so a position means the same on any
// number of ranks. For sources that cannot partition themselves (FASTA read by every rank).
class StridedSource : public BatchSource {
 public:
  StridedSource(std::unique_ptr<BatchSource> inner, int64_t rank, int64_t world)
      : inner_(std::move(inner)), rank_(rank), world_(world) {}
  bool next(TokenBatch& batch) override {
    while (index_ % world_ != rank_) {
      if (!inner_->next(batch)) return false;
      ++index_;
    }
    if (!inner_->next(batch)) return false;
    ++index_;
    return true;
  }
  void skip(int64_t batches) override {
    inner_->skip(batches);
    index_ += batches;
  }

 private:
  std::unique_ptr<BatchSource> inner_;
  int64_t rank_, world_, index_ = 0;
};

}  // namespace performer::core
