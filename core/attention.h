#pragma once
// The attention entry point: exact softmax attention (baseline and teacher), FAVOR+ and its variants,
// and a dummy that returns v (the speed ceiling). Tensors are [batch, heads, length, dim].
#include <ATen/ATen.h>

#include <cstdint>
#include <string>

#include "core/names.h"

namespace performer::core {

enum class AttentionKind {
  exact,          // softmax(q k^T / sqrt(d)) v, the O(L^2) reference
  favor_softmax,  // FAVOR+: positive random features for the softmax kernel
  favor_trig,     // sin/cos random features for the softmax kernel (comparison only: can go negative)
  favor_relu,     // generalized kernel relu(W x) + eps (Performer-ReLU)
  dummy,          // returns v: what the rest of the network costs with free attention
};

constexpr NameList<AttentionKind, 5> names(AttentionKind) {
  return {{{AttentionKind::exact, "exact"},
           {AttentionKind::favor_softmax, "favor_softmax"},
           {AttentionKind::favor_trig, "favor_trig"},
           {AttentionKind::favor_relu, "favor_relu"},
           {AttentionKind::dummy, "dummy"}}};
}
inline AttentionKind parse_attention_kind(const std::string& name) {  // throws ConfigError
  return parse_name<AttentionKind>(name, "attention kind");
}
bool is_favor(AttentionKind kind);
// Whether the kind's backward can use the features its forward computed (AttentionOptions::
// keep_features): favor_softmax and favor_relu; favor_trig always recomputes, exact and dummy have none.
bool keeps_features(AttentionKind kind);

// Default causal chunk C: on 2 cores, C = 128 ran 0.80x the time of C = 64 (B16 H4 L512) and 0.82x
// (B1 H4 L8192); ModelConfig and the attention bench take it from here.
constexpr int64_t kDefaultCausalChunk = 128;

struct AttentionOptions {
  AttentionKind kind = AttentionKind::exact;  // which attention to compute
  bool causal = false;                        // position i attends to keys j <= i only
  at::Tensor projection;                      // [m, d] random features W (favor kinds only)
  int64_t causal_chunk_size = kDefaultCausalChunk;  // C: rows per chunk of the causal prefix sums
  int64_t block_rows = 0;  // rows per cache block on favor paths; 0 picks ~4 MiB of features a block
  double softmax_epsilon = 1e-6;  // added to positive features, relative to their stabilised maximum
  double relu_epsilon = 1e-3;     // added to ReLU features so no normaliser is zero
  // favor_softmax / favor_relu: keep the forward's features (2 x [L, m] floats per head) for the
  // backward; false recomputes them block by block (less memory, more time). See keeps_features().
  bool keep_features = true;
  // favor_softmax / favor_relu, float inputs: the products of features (projections, sums, outputs
  // and their gradients) with bfloat16 factors, for mixed precision; feature maps, sums, prefix
  // states and normalisers stay float. ProteinLM sets it with --precision bf16.
  bool bf16_products = false;
};

// q, k: [B, H, L, d]; v: [B, H, L, dv]; key_padding_mask: [B, L] bool, true where the key is padding
// (undefined: no padding). Returns [B, H, L, dv]. Padded keys contribute exactly nothing. On favor
// paths no L x L tensor is formed; feature maps run in float32 (double stays double).
at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const AttentionOptions& options, const at::Tensor& key_padding_mask = {});

// Exact attention without a backward computes its scores in blocks of query rows of at most this
// many bytes (default 256 MiB), so inference on long sequences needs memory linear in L per block.
// Returns the previous value; for tests.
int64_t set_exact_block_bytes(int64_t bytes);

// The L x L attention matrix of one (batch, head) that attention() applies implicitly: row i holds
// the weights query i gives to every key (zeros for padded and, when causal, future keys). For the
// viewer and tests only; it costs O(L^2). Returns [Lq, Lk] float32 (double for double input).
at::Tensor attention_weights(const at::Tensor& q, const at::Tensor& k, const AttentionOptions& options,
                             const at::Tensor& key_padding_mask = {}, int64_t batch = 0,
                             int64_t head = 0);

}  // namespace performer::core
