#pragma once
// Independent references for the attention tests: every formula of FAVOR.md written out directly,
// forming the full L x L matrix, in double precision. Nothing here calls core/favor.
#include <torch/torch.h>

#include <cmath>
#include <string>

#include "core/attention.h"
#include "core/projection.h"

namespace performer::test {

// Features of one head. x: [L, d] unscaled; w: [m, d]; valid: [L] bool or undefined (keys only).
// detach: softmax stabilisers (the maxima) held constant under autograd, as FAVOR's backward holds them.
inline at::Tensor reference_features(const at::Tensor& x_raw, const at::Tensor& w, core::AttentionKind kind,
                                     bool is_query, const at::Tensor& valid, double eps, bool detach = false) {
  const double d = static_cast<double>(x_raw.size(-1));
  at::Tensor x = x_raw.to(at::kDouble) * std::pow(d, -0.25);
  at::Tensor wd = w.to(at::kDouble);
  at::Tensor a = at::matmul(x, wd.t());                   // [L, m]
  at::Tensor h = 0.5 * (x * x).sum(-1, true);             // [L, 1]
  at::Tensor keep = valid.defined() ? valid.to(at::kDouble).unsqueeze(-1) : at::ones_like(h);
  if (kind == core::AttentionKind::favor_relu) return is_query ? at::relu(a) + eps : (at::relu(a) + eps) * keep;
  if (kind == core::AttentionKind::favor_trig) {
    at::Tensor sc = at::cat({at::sin(a), at::cos(a)}, -1);
    if (is_query) return sc;  // exp(|q|^2/2) cancels row by row
    at::Tensor hmax = (h - 1e9 * (1 - keep)).max();
    return sc * at::exp(h - hmax) * keep;
  }
  at::Tensor u = a - h;
  if (is_query) {
    at::Tensor rmax = std::get<0>(u.max(-1, true));
    return at::exp(u - (detach ? rmax.detach() : rmax)) + eps;
  }
  at::Tensor umax = (u - 1e9 * (1 - keep)).max();
  return (at::exp(u - (detach ? umax.detach() : umax)) + eps) * keep;
}

// Attention of every (batch, head) through the explicit normalised matrix. q, k, v: [B, H, L, *].
inline at::Tensor reference_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                      const core::AttentionOptions& o, const at::Tensor& padding = {},
                                      bool detach = false) {
  at::Tensor out = at::zeros({q.size(0), q.size(1), q.size(2), v.size(3)}, at::kDouble);
  const int64_t lq = q.size(2), lk = k.size(2);
  for (int64_t b = 0; b < q.size(0); ++b) {
    at::Tensor valid = padding.defined() ? padding[b].logical_not() : at::Tensor();
    for (int64_t hd = 0; hd < q.size(1); ++hd) {
      at::Tensor weights;
      if (o.kind == core::AttentionKind::exact) {
        at::Tensor s = at::matmul(q[b][hd], k[b][hd].t()).to(at::kDouble) / std::sqrt(q.size(3));
        if (valid.defined()) s = s.masked_fill(valid.logical_not().unsqueeze(0), -INFINITY);
        if (o.causal) s = s.masked_fill(at::ones({lq, lk}, at::kBool).triu(1), -INFINITY);
        weights = at::exp(s - std::get<0>(s.max(-1, true)));
      } else {
        const double eps = o.kind == core::AttentionKind::favor_relu ? o.relu_epsilon
                           : o.kind == core::AttentionKind::favor_softmax ? o.softmax_epsilon : 0.0;
        const double key_eps = o.kind == core::AttentionKind::favor_softmax && o.causal ? 0.0 : eps;
        at::Tensor pq = reference_features(q[b][hd], o.projection, o.kind, true, {}, eps, detach);
        at::Tensor pk = reference_features(k[b][hd], o.projection, o.kind, false, valid, key_eps, detach);
        weights = at::matmul(pq, pk.t());
        if (o.causal) weights = weights.tril();
      }
      weights = weights / weights.sum(-1, true);
      out[b][hd] = at::matmul(weights, v[b][hd].to(at::kDouble));
    }
  }
  return out;
}

inline at::Tensor projection(int64_t m, int64_t d, uint64_t seed = 1,
                             core::ProjectionKind kind = core::ProjectionKind::orthogonal) {
  core::ProjectionOptions p;
  p.features = m;
  p.dim = d;
  p.seed = seed;
  p.kind = kind;
  return core::draw_projection(p);
}

inline double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

}  // namespace performer::test
