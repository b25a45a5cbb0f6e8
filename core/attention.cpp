#include "core/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "core/errors.h"
#include "core/favor.h"

namespace performer::core {
namespace {

favor::FeatureKind feature_kind(AttentionKind kind) {
  switch (kind) {
    case AttentionKind::favor_trig: return favor::FeatureKind::trig;
    case AttentionKind::favor_relu: return favor::FeatureKind::relu;
    default: return favor::FeatureKind::softmax;
  }
}

void check_shapes(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                  const AttentionOptions& options, const at::Tensor& key_padding_mask) {
  require_config(q.dim() == 4 && k.dim() == 4 && v.dim() == 4,
                 "attention expects q, k, v shaped [batch, heads, length, dim]");
  require_config(q.size(0) == k.size(0) && q.size(1) == k.size(1) && q.size(3) == k.size(3),
                 "q and k must agree in batch, heads and dim");
  require_config(v.size(0) == k.size(0) && v.size(1) == k.size(1) && v.size(2) == k.size(2),
                 "v must agree with k in batch, heads and length");
  require_config(!options.causal || q.size(2) == k.size(2),
                 "causal attention needs as many queries as keys");
  if (key_padding_mask.defined()) {
    require_config(key_padding_mask.dim() == 2 && key_padding_mask.size(0) == k.size(0) &&
                       key_padding_mask.size(1) == k.size(2),
                   "key_padding_mask must be [batch, key length]");
  }
}

// The most negative finite value of a floating type: masked scores become exactly 0 after softmax
// without turning a row with no valid key into nan.
double lowest(at::ScalarType type) {
  switch (type) {
    case at::kDouble: return std::numeric_limits<double>::lowest();
    case at::kHalf: return -65504.0;
    case at::kBFloat16: return -3.38e38;
    default: return std::numeric_limits<float>::lowest();
  }
}

// Scores with padded and (when causal) future keys masked out: [B, H, Lq, Lk]. offset: the position
// of q's first row (a block of queries sees the keys up to its own positions).
at::Tensor masked_scores(const at::Tensor& q, const at::Tensor& k, const AttentionOptions& options,
                         const at::Tensor& key_padding_mask, int64_t offset = 0) {
  at::Tensor scores = at::matmul(q, k.transpose(-1, -2)).mul_(1.0 / std::sqrt(q.size(3)));
  const double fill = lowest(scores.scalar_type());
  if (key_padding_mask.defined()) {
    scores.masked_fill_(key_padding_mask.to(q.device(), at::kBool).unsqueeze(1).unsqueeze(2), fill);
  }
  if (options.causal) {
    scores.masked_fill_(at::ones({q.size(2), k.size(2)}, q.options().dtype(at::kBool)).triu_(1 + offset), fill);
  }
  return scores;
}

int64_t exact_block_bytes = int64_t{256} << 20;

// The plain three-op reference: scores -> softmax -> weighted sum.
at::Tensor exact_rows(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const AttentionOptions& options,
                      const at::Tensor& key_padding_mask, int64_t offset = 0) {
  at::Tensor scores = masked_scores(q, k, options, key_padding_mask, offset);
  // bf16/fp16 scores (mixed precision): the softmax runs in float, the weighted sum in the input type.
  const bool reduced = scores.scalar_type() == at::kBFloat16 || scores.scalar_type() == at::kHalf;
  return at::matmul(reduced ? at::softmax(scores, -1, at::kFloat).to(v.scalar_type()) : at::softmax(scores, -1), v);
}

// Without a backward to feed (scoring, embedding, evaluation), a score matrix larger than
// exact_block_bytes is computed in blocks of query rows, each against the keys it may see: the same
// result in bounded memory (a 35,000-residue protein needs 19.6 GB of scores per layer at once).
at::Tensor exact_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                           const AttentionOptions& options, const at::Tensor& key_padding_mask) {
  const int64_t lq = q.size(2), lk = k.size(2);
  const int64_t row_bytes = q.size(0) * q.size(1) * lk * static_cast<int64_t>(std::max<size_t>(4, q.element_size()));
  const bool backward = at::GradMode::is_enabled() && (q.requires_grad() || k.requires_grad() || v.requires_grad());
  if (backward || row_bytes * lq <= exact_block_bytes) return exact_rows(q, k, v, options, key_padding_mask);
  const int64_t rows = std::max<int64_t>(1, exact_block_bytes / row_bytes);
  std::vector<at::Tensor> blocks;
  for (int64_t start = 0; start < lq; start += rows) {
    const int64_t n = std::min(rows, lq - start);
    // A causal block's queries see keys up to their own positions only.
    const int64_t keys = options.causal ? std::min(lk, start + n) : lk;
    blocks.push_back(exact_rows(q.narrow(2, start, n), k.narrow(2, 0, keys), v.narrow(2, 0, keys), options,
                                key_padding_mask.defined() ? key_padding_mask.narrow(1, 0, keys) : key_padding_mask,
                                start));
  }
  return at::cat(blocks, 2);
}

}  // namespace

int64_t set_exact_block_bytes(int64_t bytes) { return std::exchange(exact_block_bytes, bytes); }

bool keeps_features(AttentionKind kind) {
  return is_favor(kind) && favor::keeps_features(feature_kind(kind));
}

bool is_favor(AttentionKind kind) {
  return kind == AttentionKind::favor_softmax || kind == AttentionKind::favor_trig ||
         kind == AttentionKind::favor_relu;
}

at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const AttentionOptions& options, const at::Tensor& key_padding_mask) {
  check_shapes(q, k, v, options, key_padding_mask);
  switch (options.kind) {
    case AttentionKind::exact: return exact_attention(q, k, v, options, key_padding_mask);
    case AttentionKind::dummy: return v;
    default:
      return favor::attention(q, k, v, feature_kind(options.kind), options, key_padding_mask);
  }
}

at::Tensor attention_weights(const at::Tensor& q, const at::Tensor& k, const AttentionOptions& options,
                             const at::Tensor& key_padding_mask, int64_t batch, int64_t head) {
  check_shapes(q, k, k, options, key_padding_mask);
  require_config(batch >= 0 && batch < q.size(0) && head >= 0 && head < q.size(1),
                 "attention_weights: batch or head out of range");
  at::NoGradGuard no_grad;
  const auto compute = q.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  at::Tensor qh = q.narrow(0, batch, 1).narrow(1, head, 1).to(compute);
  at::Tensor kh = k.narrow(0, batch, 1).narrow(1, head, 1).to(compute);
  at::Tensor mask = key_padding_mask.defined() ? key_padding_mask.narrow(0, batch, 1) : at::Tensor();
  const int64_t lq = q.size(2), lk = k.size(2);
  switch (options.kind) {
    case AttentionKind::exact: return at::softmax(masked_scores(qh, kh, options, mask), -1)[0][0];
    case AttentionKind::dummy: return at::eye(lq, lk, qh.options());
    default: break;
  }
  return favor::head_weights(qh, kh, feature_kind(options.kind), options, mask, 0, 0);
}

}  // namespace performer::core
