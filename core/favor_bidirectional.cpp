// The bidirectional form of FAVOR attention: out = phi(Q) (phi(K)^T [V, 1]) split into numerator and
// normaliser, and its backward. Rows go through in blocks, so that a block's features are made, used
// and dropped while they are in cache; no L x L tensor is formed.
#include <algorithm>

#include "core/favor_internal.h"

namespace performer::core::favor {

ForwardResult<BidirectionalSaved> bidirectional_forward(const Pass& pass, bool keep) {
  const FeatureMap& query_map = pass.query_map;
  const FeatureMap& key_map = pass.key_map;
  const FeatureKind kind = query_map.kind;
  const int64_t n = pass.qs.size(0), lq = pass.qs.size(1), lk = pass.ks.size(1), dv = pass.v.size(2);
  const int64_t block = pass.block_rows;
  const auto opts = pass.qs.options();
  ForwardResult<BidirectionalSaved> result;
  BidirectionalSaved& saved = result.saved;
  at::Tensor stabiliser = initial_key_stabiliser(kind, pass.ks, pass.valid);  // [N, 1, 1]
  result.out = at::empty({n, lq, dv}, opts);                                  // [N, Lq, dv]

  // phi(K)^T [V, 1] is accumulated transposed, kv_sums = [V, 1]^T phi(K): with BLIS that product ran
  // 1.3x faster than phi(K)^T [V, 1], and the backward's products take kv_sums as their second factor,
  // which ran 2x faster contiguous than as a transposed view.
  const int64_t width = feature_width(kind, query_map.w.size(0));
  at::Tensor kv_sums = at::zeros({n, dv + 1, width}, opts);  // [N, dv + 1, m']
  // Softmax keys are made under the running stabiliser of their block; a kept block's is recorded
  // for the backward, which rescales the block to the final one.
  const bool keep_stabilisers = keep && kind == FeatureKind::softmax;
  if (keep_stabilisers) saved.key_stabilisers = at::empty({(lk + block - 1) / block, n, 1, 1}, opts);
  for (int64_t b = 0, start = 0; start < lk; ++b, start += block) {
    const int64_t rows = std::min(block, lk - start);
    at::Tensor x = pass.ks.narrow(1, start, rows);
    at::Tensor valid = maybe_narrow(pass.valid, start, rows);
    at::Tensor phi = key_map.key_block(x, valid, stabiliser, kv_sums);  // softmax: epsilon part added below
    key_map.mm.accumulate(kv_sums, pass.v1.narrow(1, start, rows).transpose(1, 2), phi);
    if (keep) result.kept.keys.push_back(phi);
    if (keep_stabilisers) saved.key_stabilisers[b].copy_(stabiliser);
  }
  if (kind == FeatureKind::softmax && key_map.eps > 0) {
    // phi(k) = exp(...) + eps on valid keys: the eps part adds eps * sum of valid [v, 1] to every row.
    at::Tensor sum = pass.valid.defined() ? (pass.v1 * pass.valid.unsqueeze(-1)).sum(1)
                                          : pass.v1.sum(1);  // [N, dv + 1]
    kv_sums.add_(sum.unsqueeze(2), key_map.eps);
  }

  const at::Tensor kv = kv_sums.transpose(1, 2);  // [N, m', dv + 1], a view (as fast here)
  // Softmax queries: phi(q) = e + eps, so phi(q) kv = e kv + eps (sum of kv's rows): no pass
  // over [N, r, m] for the epsilon.
  const at::Tensor kv_eps = kind == FeatureKind::softmax && query_map.eps != 0
                                ? kv.sum(1, true).mul_(query_map.eps)  // [N, 1, dv + 1]
                                : at::Tensor();
  at::Tensor denominators = at::empty({n, lq, 1}, opts);  // [N, Lq, 1]
  for (int64_t start = 0; start < lq; start += block) {
    const int64_t rows = std::min(block, lq - start);
    at::Tensor x = pass.qs.narrow(1, start, rows);
    at::Tensor phi = query_map.compute_without_eps(x, {}, {}, false).phi;
    if (keep) result.kept.queries.push_back(phi);
    at::Tensor num_den = query_map.mm(phi, kv);  // [N, r, dv + 1]
    if (kv_eps.defined()) num_den.add_(kv_eps);
    at::Tensor den = num_den.narrow(2, dv, 1);
    den.masked_fill_(den == 0, 1);
    denominators.narrow(1, start, rows).copy_(den);
    result.out.narrow(1, start, rows).copy_(normalise(num_den));
  }
  saved.kv_sums = kv_sums;
  saved.stabiliser = stabiliser;
  saved.denominators = denominators;
  return result;
}

Gradients bidirectional_backward(const Pass& pass, const at::Tensor& out, const at::Tensor& d_out,
                                 const BidirectionalSaved& saved, const KeptFeatures& kept) {
  const FeatureMap& query_map = pass.query_map;
  const FeatureMap& key_map = pass.key_map;
  const Products& mm = query_map.mm;  // float for trig
  const int64_t lq = pass.qs.size(1), lk = pass.ks.size(1), dv = pass.v.size(2);
  const int64_t block = pass.block_rows;
  const bool softmax = query_map.kind == FeatureKind::softmax;
  const bool features_kept = !kept.queries.empty();  // every block's features, or none
  Gradients grads = empty_gradients(pass);

  // Accumulated transposed, as in the forward.
  at::Tensor d_kv_sums = at::zeros_like(saved.kv_sums);  // [N, dv + 1, m']
  // Softmax features are handled as their exp part e; the epsilon (phi = e + eps, on valid keys)
  // enters through row sums, as in the forward.
  const double query_eps = softmax ? query_map.eps : 0.0, key_eps = softmax ? key_map.eps : 0.0;
  for (int64_t b = 0, start = 0; start < lq; ++b, start += block) {
    const int64_t rows = std::min(block, lq - start);
    at::Tensor x = pass.qs.narrow(1, start, rows);
    auto features = features_kept ? FeatureMap::Features{kept.queries[b], {}, kept.queries[b]}
                                  : query_map.compute_without_eps(x, {}, {}, true);
    const at::Tensor den = saved.denominators.narrow(1, start, rows);  // [N, r, 1]
    at::Tensor d_num_den =
        grad_num_den(d_out.narrow(1, start, rows), out.narrow(1, start, rows), den);  // [N, r, dv + 1]
    mm.accumulate(d_kv_sums, d_num_den.transpose(1, 2), features.phi);
    if (query_eps != 0) d_kv_sums.add_(d_num_den.sum(1).unsqueeze(2), query_eps);
    grads.queries.narrow(1, start, rows)
        .copy_(query_map.input_grad(features, x, {}, mm(d_num_den, saved.kv_sums)));
  }

  const at::Tensor d_kv = d_kv_sums.transpose(1, 2).contiguous();  // [N, m', dv + 1]
  const at::Tensor d_values_eps =
      key_eps != 0 ? d_kv.narrow(2, 0, dv).sum(1, true).mul_(key_eps) : at::Tensor();  // [N, 1, dv]
  const at::Tensor key_stabilisers = features_kept && softmax ? saved.key_stabilisers : at::Tensor();
  for (int64_t b = 0, start = 0; start < lk; ++b, start += block) {
    const int64_t rows = std::min(block, lk - start);
    at::Tensor x = pass.ks.narrow(1, start, rows);
    at::Tensor valid = maybe_narrow(pass.valid, start, rows);
    auto features = features_kept ? FeatureMap::Features{kept.keys[b], {}, kept.keys[b]}
                                  : key_map.compute_without_eps(x, valid, saved.stabiliser, true);
    // Kept softmax keys are e under this block's stabiliser: e_true = e * c with
    // c = exp(stab_b - stab) [N, 1, 1], folded into d_kv (d_phi and d_values are linear in it).
    const at::Tensor rescale =
        key_stabilisers.defined() ? (key_stabilisers[b] - saved.stabiliser).exp_() : at::Tensor();
    at::Tensor d_phi = mm(pass.v1.narrow(1, start, rows),
                          rescale.defined() ? d_kv_sums * rescale : d_kv_sums);  // [N, r, m']
    at::Tensor d_values = mm(features.phi, d_kv.narrow(2, 0, dv));  // [N, r, dv]
    if (rescale.defined()) d_values.mul_(rescale);
    if (d_values_eps.defined()) {
      d_values.add_(valid.defined() ? valid.unsqueeze(-1).to(d_values_eps.scalar_type()) * d_values_eps
                                    : d_values_eps);
    }
    grads.values.narrow(1, start, rows).copy_(d_values);
    grads.keys.narrow(1, start, rows).copy_(key_map.input_grad(features, x, valid, d_phi));
  }
  return grads;
}

}  // namespace performer::core::favor
