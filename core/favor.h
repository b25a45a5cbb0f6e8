#pragma once
// FAVOR attention internals: random-feature maps and linear attention with a custom, block-recomputing
// backward. Use core/attention.h; this header is for attention.cpp and the tests.
#include <ATen/ATen.h>

#include "core/attention.h"

namespace performer::core::favor {

enum class FeatureKind { softmax, trig, relu };

// Softmax and relu features can be kept from the forward for the backward; trig recomputes them (its
// backward needs the angles, not the features).
bool keeps_features(FeatureKind kind);

// The chunk a causal pass over `length` rows uses for chunk size C: as many chunks as C gives, each as
// short as it can be in multiples of 8 rows, so that a length just above a multiple of C is not padded
// by almost a whole chunk (L 133, C 128: two chunks of 72 rows, not two of 128; on a training run's
// mixed lengths that padding cost ~10% of a step). Chunks only split the sums: the same result up to
// rounding.
int64_t fitted_chunk(int64_t chunk, int64_t length);

// Which side a feature map is for: the stabilisers differ (per row for queries, per sequence for keys).
enum class Role { query, key };

// Linear attention with random features. q, k: [B, H, L, d]; v: [B, H, L, dv]; projection [m, d];
// key_padding_mask [B, L] (true = padding) or undefined. Returns [B, H, L, dv] in v's dtype.
at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, FeatureKind kind,
                     const AttentionOptions& options, const at::Tensor& key_padding_mask);

// The matrix attention() applies implicitly to one head, materialised from the same features and
// stabilisers, for attention_weights(): [Lq, Lk], rows normalised, zero columns for padded keys and
// (causal) zeros above the diagonal.
at::Tensor head_weights(const at::Tensor& q, const at::Tensor& k, FeatureKind kind,
                        const AttentionOptions& options, const at::Tensor& key_padding_mask, int64_t batch,
                        int64_t head);

}  // namespace performer::core::favor
