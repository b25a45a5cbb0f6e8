#include "core/favor_features.h"

#include <cmath>
#include <limits>

namespace performer::core::favor {
namespace {

// Start value of running maxima: below every real key's log-scale (any finite float logit), and
// finite, so that exp(kNoMax - M) is 0 (or 1) rather than nan before the first real key.
constexpr double kNoMax = std::numeric_limits<float>::lowest();
constexpr double kInf = std::numeric_limits<double>::infinity();

// d (|x|^2 / (2 sqrt(d))) / dx = x / sqrt(d): the factor 1 / sqrt(d) (the input scale squared).
double norm_grad_scale(const at::Tensor& x) { return 1.0 / std::sqrt(static_cast<double>(x.size(-1))); }

// |x d^-1/4|^2 / 2 for rows x [N, r, d]: [N, r, 1].
at::Tensor half_sq_norm(const at::Tensor& x) { return (x * x).sum(-1, true).mul_(0.5 * norm_grad_scale(x)); }

// Trig keys' log-scales |x|^2/2 [N, r, 1]; padded keys' are kNoMax, below every real one.
at::Tensor trig_log_scales(const at::Tensor& ks, const at::Tensor& valid) {
  at::Tensor half_norms = half_sq_norm(ks);  // [N, r, 1]
  if (valid.defined()) half_norms.masked_fill_(valid.logical_not().unsqueeze(-1), kNoMax);
  return half_norms;
}

}  // namespace

bool keeps_features(FeatureKind kind) { return kind != FeatureKind::trig; }

double input_scale(int64_t dim) { return std::pow(static_cast<double>(dim), -0.25); }

int64_t feature_width(FeatureKind kind, int64_t m) { return kind == FeatureKind::trig ? 2 * m : m; }

double epsilon_for(FeatureKind kind, const AttentionOptions& options) {
  return kind == FeatureKind::relu ? options.relu_epsilon
                                   : kind == FeatureKind::softmax ? options.softmax_epsilon : 0.0;
}

double key_epsilon(FeatureKind kind, bool causal, double eps) {
  return kind == FeatureKind::softmax && causal ? 0.0 : eps;
}

at::Tensor trig_key_stabiliser(const at::Tensor& ks, const at::Tensor& valid) {
  return trig_log_scales(ks, valid).amax({1, 2}, true);
}

at::Tensor no_key_maximum(int64_t n, const at::TensorOptions& options) {
  return at::full({n, 1}, kNoMax, options);
}

at::Tensor initial_key_stabiliser(FeatureKind kind, const at::Tensor& ks, const at::Tensor& valid) {
  return kind == FeatureKind::trig ? trig_key_stabiliser(ks, valid)
                                   : no_key_maximum(ks.size(0), ks.options()).unsqueeze(-1);
}

FeatureMap::FeatureMap(FeatureKind kind_, Role role_, double eps_, const at::Tensor& w_, Products mm_)
    : kind(kind_), role(role_), eps(eps_), w(mm_.lo(w_)), wt(mm_.lo(w_.t().contiguous())), mm(mm_) {
  if (kind == FeatureKind::trig) {
    mm = {};
    w = w_;
    wt = w_.t().contiguous();
  }
}

// Padded keys get an infinite shift: u = -inf drops out of every maximum and exp(u - stab) is exactly 0
// (stabilisers are finite).
at::Tensor FeatureMap::key_logits(const at::Tensor& x, const at::Tensor& valid, const at::Tensor& s) const {
  at::Tensor shift = half_sq_norm(x);  // [N, r, 1]
  if (s.defined()) shift.add_(s);
  if (valid.defined()) shift.masked_fill_(valid.logical_not().unsqueeze(-1), kInf);
  return project(x).sub_(shift);
}

at::Tensor FeatureMap::exp_part(const at::Tensor& x, const at::Tensor& valid, const at::Tensor& stab) const {
  if (role == Role::key) return key_logits(x, valid, stab).exp_();
  at::Tensor u = project(x);  // [N, r, m]
  return u.sub_(u.amax(-1, true)).exp_();
}

FeatureMap::Features FeatureMap::compute(const at::Tensor& x, const at::Tensor& valid, const at::Tensor& stab,
                                         bool keep) const {
  Features out;
  if (kind == FeatureKind::softmax) {
    at::Tensor e = exp_part(x, valid, stab);  // [N, r, m], 0 on padded keys
    if (keep) out.exp_factor = e;
    if (eps == 0) {
      out.phi = e;
    } else if (role == Role::key && valid.defined()) {
      at::Tensor shift = valid.unsqueeze(-1).to(e.scalar_type()).mul_(eps);  // [N, r, 1]
      out.phi = keep ? e + shift : e.add_(shift);
    } else {
      out.phi = keep ? e + eps : e.add_(eps);
    }
    return out;
  }
  at::Tensor projected = project(x);  // [N, r, m]
  const bool masked = role == Role::key && valid.defined();
  if (kind == FeatureKind::relu) {
    // In place: the backward's gate projected > 0 is phi > eps (padded keys: phi = 0), so the
    // projections need not be kept.
    out.phi = projected.clamp_min_(0);
    if (eps != 0) out.phi.add_(eps);
    if (masked) out.phi.mul_(valid.unsqueeze(-1));
    return out;
  } else {
    // trig: exp(|x|^2/2) [sin, cos]; the row factor cancels for queries, keys need it (stabilised).
    out.phi = at::cat({at::sin(projected), at::cos(projected)}, -1);  // [N, r, 2m]
    if (role == Role::key) {
      out.exp_factor = half_sq_norm(x).sub_(stab);  // [N, r, 1]
      if (masked) out.exp_factor.masked_fill_(valid.logical_not().unsqueeze(-1), -kInf);
      out.exp_factor.exp_();
      out.phi.mul_(out.exp_factor);
    }
  }
  if (keep) out.projected = projected;
  return out;
}

FeatureMap::Features FeatureMap::compute_without_eps(const at::Tensor& x, const at::Tensor& valid,
                                                     const at::Tensor& stab, bool keep) const {
  if (kind != FeatureKind::softmax) return compute(x, valid, stab, keep);
  Features out;
  out.exp_factor = exp_part(x, valid, stab);
  out.phi = out.exp_factor;
  return out;
}

at::Tensor FeatureMap::key_block(const at::Tensor& x, const at::Tensor& valid, at::Tensor& stab,
                                 at::Tensor& state) const {
  if (kind != FeatureKind::softmax) return compute(x, valid, stab, false).phi;
  at::Tensor u = key_logits(x, valid, {});
  at::Tensor new_stab = at::maximum(stab, u.amax({1, 2}, true));
  state.mul_((stab - new_stab).exp_());
  stab = new_stab;
  return u.sub_(stab).exp_();
}

std::pair<at::Tensor, at::Tensor> FeatureMap::causal_key_block(const at::Tensor& x, const at::Tensor& valid,
                                                                at::Tensor& running) const {
  if (kind == FeatureKind::relu) return {compute(x, valid, {}, false).phi, {}};
  const bool softmax = kind == FeatureKind::softmax;
  at::Tensor logits = softmax ? key_logits(x, valid, {}) : at::Tensor();  // [N, r, m]
  at::Tensor log_scales = softmax ? logits.amax(-1) : trig_log_scales(x, valid).squeeze(-1);  // [N, r]
  at::Tensor stabilisers = std::get<0>(at::cummax(at::maximum(log_scales, running), 1));     // [N, r]
  running = stabilisers.narrow(1, x.size(1) - 1, 1);
  // The same operations as causal_key_features(), so that a backward that recomputes the features
  // gets these bit for bit (at a logit of -1e35, w.x - (|x|^2/2 + s) would lose it entirely).
  if (softmax) return {logits.sub_(stabilisers.unsqueeze(-1)).exp_(), stabilisers};
  return {compute(x, valid, stabilisers.unsqueeze(-1), false).phi, stabilisers};
}

FeatureMap::Features FeatureMap::causal_key_features(const at::Tensor& x, const at::Tensor& valid,
                                                     const at::Tensor& stabilisers, bool keep) const {
  if (kind == FeatureKind::relu) return compute(x, valid, {}, keep);
  if (kind == FeatureKind::trig) return compute(x, valid, stabilisers.unsqueeze(-1), keep);
  Features out;
  out.phi = key_logits(x, valid, {}).sub_(stabilisers.unsqueeze(-1)).exp_();
  out.exp_factor = out.phi;
  return out;
}

at::Tensor FeatureMap::input_grad(const Features& features, const at::Tensor& x, const at::Tensor& valid,
                                  at::Tensor d_phi) const {
  switch (kind) {
    case FeatureKind::softmax: {
      // phi = exp(w.x - |x|^2/(2 sqrt(d)) - stab) + eps (w scaled), stab held constant:
      // d/dx = (w - x / sqrt(d)) * exp part.
      at::Tensor d_projected = d_phi.mul_(features.exp_factor);
      return mm(d_projected, w).sub_(d_projected.sum(-1, true).mul_(norm_grad_scale(x)) * x);
    }
    case FeatureKind::relu:
      // relu'(projected) = [projected > 0] = [phi > eps]; padded keys have phi = 0.
      return mm(at::threshold_backward(d_phi, features.phi, eps), w);
    case FeatureKind::trig: {
      const int64_t m = features.projected.size(-1);
      at::Tensor d_projected = d_phi.narrow(-1, 0, m) * at::cos(features.projected) -
                               d_phi.narrow(-1, m, m) * at::sin(features.projected);
      if (role == Role::query) return at::matmul(d_projected, w);
      d_projected.mul_(features.exp_factor);
      return at::matmul(d_projected, w)
          .add_((d_phi * features.phi).sum(-1, true).mul_(norm_grad_scale(x)) * x);
    }
  }
  return {};
}

}  // namespace performer::core::favor
