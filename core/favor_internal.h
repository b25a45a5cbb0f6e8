#pragma once
// What the autograd function in core/favor.cpp hands to the two algorithms (core/favor_bidirectional.cpp,
// core/favor_causal.cpp), and what each forward gives back for its backward. Internal to core/favor*.cpp.
#include <ATen/ATen.h>

#include <tuple>
#include <vector>

#include "core/favor_features.h"

namespace performer::core::favor {

// One call's inputs, folded to N = batch x heads, and how to run them: what its forward and its
// backward both see.
struct Pass {
  at::Tensor qs;         // [N, Lq, d] queries (unscaled: the feature maps' w carries d^-1/4)
  at::Tensor ks;         // [N, Lk, d] keys
  at::Tensor v;          // [N, Lk, dv] values
  at::Tensor v1;         // [N, Lk, dv + 1] [v, 1]: one product gives numerator and normaliser
  at::Tensor valid;      // [N, Lk] bool, true on real keys; undefined when no key is padded
  FeatureMap query_map;  // phi for queries
  FeatureMap key_map;    // phi for keys
  int64_t block_rows;    // rows per cache block (causal: whole chunks)
  int64_t chunk;         // causal: rows per chunk, from fitted_chunk()
};

// Features the forward kept for the backward, one tensor per block (both empty: the backward
// recomputes them). Softmax keeps its exp part e (phi = e + eps), relu its features; trig never keeps.
struct KeptFeatures {
  std::vector<at::Tensor> queries;  // [N, r, m] each
  std::vector<at::Tensor> keys;     // [N, r, m] each
};

template <class Saved>
struct ForwardResult {
  at::Tensor out;     // [N, Lq, dv]
  Saved saved;        // the algorithm's tensors for its backward
  KeptFeatures kept;  // empty unless the forward was asked to keep its features
};

struct Gradients {
  at::Tensor queries;  // [N, Lq, d]
  at::Tensor keys;     // [N, Lk, d]
  at::Tensor values;   // [N, Lk, dv]
};

// Bidirectional: out = phi(Q) (phi(K)^T [V, 1]) split into numerator and normaliser.
struct BidirectionalSaved {
  at::Tensor kv_sums;          // [N, dv + 1, m'] [V, 1]^T phi(K), under the final key stabiliser
  at::Tensor stabiliser;       // [N, 1, 1] the final key stabiliser
  at::Tensor denominators;     // [N, Lq, 1] normalisers (zeros replaced by 1)
  at::Tensor key_stabilisers;  // [key blocks, N, 1, 1] the stabiliser each kept softmax key block was
                               // made under; undefined unless softmax features were kept

  // The fields in the order ctx->save_for_backward holds them (core/favor.cpp packs and unpacks them).
  auto tensors() { return std::tie(kv_sums, stabiliser, denominators, key_stabilisers); }
};
ForwardResult<BidirectionalSaved> bidirectional_forward(const Pass& pass, bool keep);
Gradients bidirectional_backward(const Pass& pass, const at::Tensor& out, const at::Tensor& d_out,
                                 const BidirectionalSaved& saved, const KeptFeatures& kept);

// Causal: chunked prefix sums. One slot per block in each tensor, so that a block's slice is contiguous.
struct CausalSaved {
  at::Tensor prefix_states;  // [blocks, N, chunks a block, dv + 1, m'] exclusive prefix state of each chunk
  at::Tensor intra_chunk;    // [blocks, N, chunks a block, C, C] tril(phi(Q_c) phi(K_c)^T), rescaled
  at::Tensor denominators;   // [blocks, N, chunks a block, C, 1] normalisers (1 on padding rows)
  at::Tensor stabilisers;    // [blocks, N, chunks a block, C] the key stabiliser of each row (padding rows:
                             // their chunk's last); undefined for relu, which has none

  // The fields in the order ctx->save_for_backward holds them (core/favor.cpp packs and unpacks them).
  auto tensors() { return std::tie(prefix_states, intra_chunk, denominators, stabilisers); }
};
ForwardResult<CausalSaved> causal_forward(const Pass& pass, bool keep);
Gradients causal_backward(const Pass& pass, const at::Tensor& out, const at::Tensor& d_out,
                          const CausalSaved& saved, const KeptFeatures& kept);

// Helpers both algorithms use.

inline at::Tensor maybe_narrow(const at::Tensor& t, int64_t start, int64_t rows) {
  return t.defined() ? t.narrow(1, start, rows) : t;
}

// Splits [numerator, normaliser] rows into out = num / den; num_den [..., dv + 1] -> [..., dv].
inline at::Tensor normalise(const at::Tensor& num_den) {
  const int64_t dv = num_den.size(-1) - 1;
  return num_den.narrow(-1, 0, dv) / num_den.narrow(-1, dv, 1);
}

// d loss / d [num, den] from d loss / d out: [g / den, -(g . out) / den]. g, out [..., dv]; den [..., 1].
inline at::Tensor grad_num_den(const at::Tensor& g, const at::Tensor& out, const at::Tensor& den) {
  return at::cat({g / den, (g * out).sum(-1, true).div_(den).neg_()}, -1);
}

inline Gradients empty_gradients(const Pass& pass) {
  return {at::empty_like(pass.qs), at::empty_like(pass.ks), at::empty_like(pass.v)};
}

}  // namespace performer::core::favor
