#pragma once
// Multi-head self-attention with input/output projections; the attention kind is an option, so an
// exact-attention model becomes a Performer by switching the kind (same parameters).
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "core/attention.h"
#include "core/projection.h"

namespace performer::core {

struct MultiheadAttentionOptions {
  MultiheadAttentionOptions(int64_t embed_dim, int64_t heads) : embed_dim_(embed_dim), heads_(heads) {}
  TORCH_ARG(int64_t, embed_dim);                                   // E: model width
  TORCH_ARG(int64_t, heads);                                       // H: heads; head dim is E / H
  TORCH_ARG(AttentionKind, kind) = AttentionKind::exact;           // attention computed
  TORCH_ARG(bool, causal) = false;                                 // autoregressive mask
  TORCH_ARG(int64_t, features) = 256;                              // m: random features (favor kinds)
  TORCH_ARG(ProjectionKind, projection) = ProjectionKind::orthogonal;  // how W is drawn
  TORCH_ARG(int64_t, redraw_interval) = 1000;  // training forward calls per projection (redrawn at the first call after); 0: never
  TORCH_ARG(uint64_t, seed) = 0;               // projection seed; draw n uses (seed, n)
  TORCH_ARG(int64_t, causal_chunk_size) = 64;  // C for the causal prefix sums
  TORCH_ARG(bool, bias) = true;                // biases in the q/k/v and output projections
  TORCH_ARG(bool, rotary) = false;             // rotary positions on q and k (no length limit)
  TORCH_ARG(bool, keep_features) = true;       // favor: keep features for the backward (false: recompute)
  // Type of the q/k/v and output projections' products: float (as the weights) or bfloat16 (mixed
  // precision: weights stay float, inputs and weights are cast for the product, which returns bf16).
  TORCH_ARG(at::ScalarType, dense_dtype) = at::kFloat;
};

// Rotary position embedding of x [B, H, L, dh] (dh even): pairs (i, i + dh/2) rotated by angle
// position * 10000^(-2i/dh). Relative positions then enter q.k, and any length works.
at::Tensor apply_rotary(const at::Tensor& x);

// layer(x) with its product in `dtype`: float runs the layer as it is; bfloat16 casts x, the weight
// and the bias (the casts' backward returns float gradients to the float parameters) and returns bf16.
at::Tensor dense(const torch::nn::Linear& layer, const at::Tensor& x, at::ScalarType dtype);

// ConfigError unless the projection suits the kind: identity is the ReLU kernel's deterministic
// variant, and gives favor_softmax and favor_trig a different, biased kernel.
void check_projection(AttentionKind kind, ProjectionKind projection);

class MultiheadAttentionImpl : public torch::nn::Cloneable<MultiheadAttentionImpl> {
 public:
  explicit MultiheadAttentionImpl(const MultiheadAttentionOptions& options);
  void reset() override;

  // x: [B, L, E]; key_padding_mask: [B, L] bool, true where the token is padding. Returns [B, L, E].
  // In training mode every call counts towards the redraw interval; in eval mode nothing is redrawn.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& key_padding_mask = {});

  // The same call split in heads: q, k, v [B, H, L, E/H] -> [B, H, L, E/H] (used by forward).
  at::Tensor attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                    const at::Tensor& key_padding_mask = {}) const;

  // Queries, keys and values of x [B, L, E] as attention sees them (rotary applied): 3 x [B, H, L, E/H].
  std::tuple<at::Tensor, at::Tensor, at::Tensor> project(const at::Tensor& x);

  void set_kind(AttentionKind kind);  // switch attention, keep every parameter (ConfigError: see check_projection)
  void set_keep_features(bool keep) { options.keep_features(keep); }  // see AttentionOptions
  void set_dense_dtype(at::ScalarType dtype) { options.dense_dtype(dtype); }
  void redraw();                      // replace the projection by the next draw of the sequence
  int64_t draws() const;              // projections drawn so far (1 after construction)
  AttentionOptions attention_options() const;

  MultiheadAttentionOptions options;
  torch::nn::Linear in_proj{nullptr};   // E -> 3E (q, k, v)
  torch::nn::Linear out_proj{nullptr};  // E -> E
  at::Tensor projection;                // buffer [m, E/H]: random features, saved with the model
  at::Tensor training_calls;            // buffer, int64 scalar: forward calls in training mode
  at::Tensor draw_count;                // buffer, int64 scalar: projections drawn
};
TORCH_MODULE(MultiheadAttention);

}  // namespace performer::core
