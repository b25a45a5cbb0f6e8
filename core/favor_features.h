#pragma once
// FAVOR's feature maps phi (softmax, trig, relu) and what both attention algorithms share with them:
// the input scale, the key stabilisers, the epsilon rules and the (optionally bf16) products. Internal
// to core/favor*.cpp.
#include <ATen/ATen.h>

#include <utility>

#include "core/favor.h"

namespace performer::core::favor {

// d^-1/4 on queries and keys turns q.k / sqrt(d) into q.k, the kernel the features estimate. It is
// applied through the projection (w d^-1/4) and the norms (|x|^2 d^-1/2), so that q and k are not
// copied to scale them.
double input_scale(int64_t dim);

// Number of feature columns m' for a projection of m rows: 2m for trig (sin and cos), else m.
int64_t feature_width(FeatureKind kind, int64_t m);

// The epsilon added to query features (and to key features, see key_epsilon()): relu's is absolute,
// softmax's relative to the stabilised maximum, trig has none.
double epsilon_for(FeatureKind kind, const AttentionOptions& options);

// Causal softmax keys get no epsilon: it would not cancel, and position i would see later keys' maximum.
double key_epsilon(FeatureKind kind, bool causal, double eps);

// Key stabiliser for trig features: max of |k|^2/2 over valid keys, [N, 1, 1].
at::Tensor trig_key_stabiliser(const at::Tensor& ks, const at::Tensor& valid);

// Where a running maximum of key log-scales starts, [N, 1]: below every real key's, finite.
at::Tensor no_key_maximum(int64_t n, const at::TensorOptions& options);

// The key stabiliser a bidirectional pass starts from, [N, 1, 1]: trig's is fixed by the key norms
// alone; softmax's starts at no_key_maximum() and FeatureMap::key_block() raises it block by block;
// relu has none (the value is unused).
at::Tensor initial_key_stabiliser(FeatureKind kind, const at::Tensor& ks, const at::Tensor& valid);

// FAVOR's matrix products: float, or (mixed precision, bf16 = true) with bfloat16 factors and the
// result back in float, so that feature maps, sums, prefix states and normalisers stay float. lo()
// rounds a factor once for several products.
struct Products {
  bool bf16 = false;
  at::Tensor lo(const at::Tensor& t) const {
    return bf16 && t.scalar_type() == at::kFloat ? t.to(at::kBFloat16) : t;
  }
  at::Tensor operator()(const at::Tensor& a, const at::Tensor& b) const {
    if (!bf16) return at::matmul(a, b);
    return at::matmul(lo(a), lo(b)).to(at::kFloat);
  }
  // acc += a b for batched [N, *, *] factors (in place for float products).
  void accumulate(at::Tensor& acc, const at::Tensor& a, const at::Tensor& b) const {
    if (bf16) {
      acc.add_((*this)(a, b));
    } else {
      acc.baddbmm_(a, b);
    }
  }
};

// One side's feature map phi over a block of rows x [N, r, d] (unscaled: w carries d^-1/4). Queries are
// stabilised per row, keys by one value per sequence (stab [N, 1, 1]); both cancel in out = num / den.
// valid: [N, r] bool, true on real keys (keys only; undefined: no padding).
struct FeatureMap {
  FeatureKind kind;
  Role role;
  double eps;    // softmax: added relative to the stabilised max (0 for causal keys); relu: absolute
  at::Tensor w;   // [m, d], times d^-1/4
  at::Tensor wt;  // [d, m], contiguous: with BLIS, x [4096, 64] times a transposed view of w ran 2x slower
  Products mm;    // bf16 products for softmax and relu features (trig, for comparison only, stays float)

  FeatureMap(FeatureKind kind_, Role role_, double eps_, const at::Tensor& w_, Products mm_ = {});

  at::Tensor project(const at::Tensor& x) const { return mm(x, wt); }  // x W^T [N, r, m]

  // A block's features, and what their input gradient needs.
  struct Features {
    at::Tensor phi;         // [N, r, m'] features (zero rows for padded keys)
    at::Tensor projected;   // [N, r, m] projections x W^T (trig; kept for the backward)
    at::Tensor exp_factor;  // softmax: exp part e [N, r, m] (phi = e + eps); trig keys: row factor [N, r, 1]
  };

  // Softmax keys: u = w.x - |x|^2/2 - s, [N, r, m], with one pass for both shifts. Padded keys drop out
  // of every maximum and get exactly zero features. s [N, 1, 1] or undefined (0).
  at::Tensor key_logits(const at::Tensor& x, const at::Tensor& valid, const at::Tensor& s) const;

  // Softmax only: the exponential part e of the features (phi = e + eps). Queries: exp(u - max_j u_j)
  // with u = w.x (|x|^2/2 is constant along the row and cancels); keys: exp(w.x - |x|^2/2 - stab).
  at::Tensor exp_part(const at::Tensor& x, const at::Tensor& valid, const at::Tensor& stab) const;

  // keep: also return what input_grad() needs (exp_factor, projected).
  Features compute(const at::Tensor& x, const at::Tensor& valid, const at::Tensor& stab, bool keep) const;

  // compute() without the softmax epsilon, which the bidirectional path carries through row sums
  // (phi = e + eps): softmax gives phi = e (and e), the other kinds their usual features.
  Features compute_without_eps(const at::Tensor& x, const at::Tensor& valid, const at::Tensor& stab,
                               bool keep) const;

  // Keys only: features of one block under the running key maximum. For softmax the block may raise
  // the maximum; `state` accumulated under the old one is then rescaled (as flash attention does).
  // Softmax features come without the epsilon, which the caller adds once for all keys.
  at::Tensor key_block(const at::Tensor& x, const at::Tensor& valid, at::Tensor& stab,
                       at::Tensor& state) const;

  // Causal keys: features of one block, each key under its own stabiliser, the running maximum of the
  // keys' log-scales (softmax: the largest logit; trig: |x|^2/2) over it and every key before it, so
  // that no key is scaled by a later one (issue 25). running [N, 1], the maximum over earlier blocks, is
  // raised to this block's. Returns {features [N, r, m'] (softmax: no epsilon), stabilisers [N, r]}; relu
  // has no stabiliser (undefined).
  std::pair<at::Tensor, at::Tensor> causal_key_block(const at::Tensor& x, const at::Tensor& valid,
                                                     at::Tensor& running) const;

  // causal_key_block()'s features again from its stabilisers [N, r], bit for bit, with what
  // input_grad() needs.
  Features causal_key_features(const at::Tensor& x, const at::Tensor& valid, const at::Tensor& stabilisers,
                               bool keep) const;

  // d loss / d x for a block, given d loss / d phi (a temporary, overwritten); features from
  // compute(..., keep = true).
  at::Tensor input_grad(const Features& features, const at::Tensor& x, const at::Tensor& valid,
                        at::Tensor d_phi) const;
};

}  // namespace performer::core::favor
