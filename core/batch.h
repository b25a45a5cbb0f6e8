#pragma once
// What a language model trains on: padded token batches, and a source that yields them.
#include <ATen/ATen.h>

#include <cstdint>

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

}  // namespace performer::core
