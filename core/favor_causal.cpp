// The causal form of FAVOR attention, and its backward: chunked prefix sums with batched tensor ops
// and no per-token loop. Rows go through in blocks of whole chunks of C rows; in a chunk c,
// out_c = (phi(Q_c) S_<c + tril(phi(Q_c) phi(K_c)^T) [V_c, 1]) split into numerator and normaliser,
// with S_<c the sum of [V, 1]^T phi(K) over all earlier chunks. No [L, m, dv] or L x L tensor is formed.
#include <algorithm>

#include "core/favor_internal.h"

namespace performer::core::favor {
namespace {

// Pads [N, r, c] to [N, nc, C, c] with zero rows at the end.
at::Tensor to_chunks(const at::Tensor& t, int64_t chunk) {
  const int64_t rows = t.size(1);
  const int64_t chunks = (rows + chunk - 1) / chunk;
  at::Tensor padded = chunks * chunk == rows ? t : at::constant_pad_nd(t, {0, 0, 0, chunks * chunk - rows});
  return padded.reshape({t.size(0), chunks, chunk, t.size(2)});
}

at::Tensor from_chunks(const at::Tensor& t, int64_t rows) {  // [N, nc, C, c] -> [N, rows, c]
  return t.reshape({t.size(0), t.size(1) * t.size(2), t.size(3)}).narrow(1, 0, rows);
}

// The causal pieces of one block, in chunks: inputs [N, nc, C, *] and the prefix state before it.
// Values carry an extra column of ones (v1 = [v, 1]), so one product gives numerator and normaliser.
// Sums are kept transposed ([dv + 1, m']): with BLIS, [V, 1]^T phi(K) ran 1.25x faster than
// phi(K)^T [V, 1], and products taking them as a contiguous second factor up to 1.6x faster.
struct CausalBlock {
  at::Tensor chunk_sums;     // per-chunk sums [V_c, 1]^T phi(K_c) [N, nc, dv + 1, m']
  at::Tensor prefix_states;  // exclusive prefix state at each chunk [N, nc, dv + 1, m']
  at::Tensor intra_chunk;    // tril(phi(Q_c) phi(K_c)^T) [N, nc, C, C]
  at::Tensor num_den;        // [numerator, normaliser] [N, nc, C, dv + 1], zero normalisers replaced by 1
};

// phi_q, phi_k [N, nc, C, m'], v1 [N, nc, C, dv + 1]; earlier_sums [N, dv + 1, m'] over earlier blocks.
CausalBlock causal_block(const at::Tensor& phi_q_, const at::Tensor& phi_k_, const at::Tensor& v1_,
                         const at::Tensor& earlier_sums, const Products& mm) {
  const at::Tensor phi_q = mm.lo(phi_q_), phi_k = mm.lo(phi_k_), v1 = mm.lo(v1_);
  CausalBlock b;
  b.chunk_sums = mm(v1.transpose(-1, -2), phi_k);  // [N, nc, dv + 1, m']
  b.prefix_states =
      b.chunk_sums.cumsum(1).sub_(b.chunk_sums).add_(earlier_sums.unsqueeze(1));  // [N, nc, dv + 1, m']
  b.intra_chunk = mm(phi_q, phi_k.transpose(-1, -2)).tril_();                      // [N, nc, C, C]
  b.num_den = mm(phi_q, b.prefix_states.transpose(-1, -2)).add_(mm(b.intra_chunk, v1));
  at::Tensor den = b.num_den.narrow(-1, b.num_den.size(-1) - 1, 1);
  den.masked_fill_(den == 0, 1);
  return b;
}

}  // namespace

int64_t fitted_chunk(int64_t chunk, int64_t length) {
  const int64_t chunks = std::max<int64_t>(1, (length + chunk - 1) / chunk);
  const int64_t rows = (length + chunks - 1) / chunks;
  return std::min(chunk, (rows + 7) / 8 * 8);
}

ForwardResult<CausalSaved> causal_forward(const Pass& pass, bool keep) {
  const FeatureMap& query_map = pass.query_map;
  const FeatureMap& key_map = pass.key_map;
  const FeatureKind kind = query_map.kind;
  const int64_t n = pass.qs.size(0), lq = pass.qs.size(1), dv = pass.v.size(2);
  const int64_t width = feature_width(kind, query_map.w.size(0));
  const int64_t block = pass.block_rows, chunk = pass.chunk;
  const auto opts = pass.qs.options();
  ForwardResult<CausalSaved> result;
  CausalSaved& saved = result.saved;
  at::Tensor stabiliser = initial_key_stabiliser(kind, pass.ks, pass.valid);  // [N, 1, 1]
  result.out = at::empty({n, lq, dv}, opts);                                  // [N, Lq, dv]

  const int64_t blocks = (lq + block - 1) / block;
  const int64_t block_chunks = block / chunk;  // blocks hold whole chunks
  at::Tensor earlier_sums = at::zeros({n, dv + 1, width}, opts);  // [V, 1]^T phi(K) over earlier blocks
  // Kept for the backward, which then only recomputes the features: O(L/C m dv + L C) memory.
  // One slot per block, so that a block's slice is contiguous (no copies in the batched products).
  saved.prefix_states = at::empty({blocks, n, block_chunks, dv + 1, width}, opts);
  saved.intra_chunk = at::empty({blocks, n, block_chunks, chunk, chunk}, opts);
  saved.denominators = at::empty({blocks, n, block_chunks, chunk, 1}, opts);
  saved.stabilisers = at::empty({blocks, n, 1, 1}, opts);
  for (int64_t b = 0, start = 0; b < blocks; ++b, start += block) {
    const int64_t rows = std::min(block, lq - start);
    at::Tensor x = pass.ks.narrow(1, start, rows);
    at::Tensor valid = maybe_narrow(pass.valid, start, rows);
    auto query_features = query_map.compute(pass.qs.narrow(1, start, rows), {}, {}, keep);
    at::Tensor phi_q = query_features.phi;
    at::Tensor phi_k = key_map.key_block(x, valid, stabiliser, earlier_sums);  // no epsilon on causal keys
    if (keep) {
      // softmax: phi = e + eps, of which e is kept
      result.kept.queries.push_back(kind == FeatureKind::softmax ? query_features.exp_factor : phi_q);
      result.kept.keys.push_back(phi_k);
    }
    saved.stabilisers[b].copy_(stabiliser);
    CausalBlock pieces = causal_block(to_chunks(phi_q, chunk), to_chunks(phi_k, chunk),
                                      to_chunks(pass.v1.narrow(1, start, rows), chunk), earlier_sums,
                                      query_map.mm);
    result.out.narrow(1, start, rows).copy_(from_chunks(normalise(pieces.num_den), rows));
    const int64_t chunks = pieces.chunk_sums.size(1);
    saved.prefix_states[b].narrow(1, 0, chunks).copy_(pieces.prefix_states);
    saved.intra_chunk[b].narrow(1, 0, chunks).copy_(pieces.intra_chunk);
    saved.denominators[b].narrow(1, 0, chunks).copy_(pieces.num_den.narrow(-1, dv, 1));
    earlier_sums.add_(pieces.chunk_sums.sum(1));
  }
  return result;
}

Gradients causal_backward(const Pass& pass, const at::Tensor& out, const at::Tensor& d_out,
                          const CausalSaved& saved, const KeptFeatures& kept) {
  const FeatureMap& query_map = pass.query_map;
  const FeatureMap& key_map = pass.key_map;
  const Products& mm = query_map.mm;  // float for trig
  const int64_t n = pass.qs.size(0), lq = pass.qs.size(1), dv = pass.v.size(2);
  const int64_t block = pass.block_rows, chunk = pass.chunk;
  const bool softmax = query_map.kind == FeatureKind::softmax;
  const bool features_kept = !kept.queries.empty();  // every block's features, or none
  const int64_t blocks = saved.stabilisers.size(0);
  Gradients grads = empty_gradients(pass);

  // d loss / d of the state a block hands to the later ones: the sum over later blocks of
  // d[num, den]^T phi(Q) (transposed like the forward's sums), in this block's key units.
  at::Tensor d_later_state = at::zeros({n, saved.prefix_states.size(3), saved.prefix_states.size(4)},
                                       pass.qs.options());  // [N, dv + 1, m']
  for (int64_t b = blocks - 1; b >= 0; --b) {
    const int64_t start = b * block, rows = std::min(block, lq - start);
    const int64_t chunks = (rows + chunk - 1) / chunk;
    at::Tensor xq = pass.qs.narrow(1, start, rows), xk = pass.ks.narrow(1, start, rows);
    at::Tensor valid = maybe_narrow(pass.valid, start, rows);
    FeatureMap::Features query_features, key_features;
    if (features_kept) {
      // Softmax: the kept e gives phi = e + eps for queries; causal keys carry no epsilon.
      query_features = softmax ? FeatureMap::Features{kept.queries[b] + query_map.eps, {}, kept.queries[b]}
                               : FeatureMap::Features{kept.queries[b], {}, {}};
      key_features = FeatureMap::Features{kept.keys[b], {}, softmax ? kept.keys[b] : at::Tensor()};
    } else {
      query_features = query_map.compute(xq, {}, {}, true);
      key_features = key_map.compute(xk, valid, saved.stabilisers[b], true);
    }
    // Factors of several products: rounded once for bf16 products.
    const at::Tensor phi_q = mm.lo(to_chunks(query_features.phi, chunk));  // [N, nc, C, m']
    const at::Tensor phi_k = mm.lo(to_chunks(key_features.phi, chunk));    // [N, nc, C, m']
    const at::Tensor v1 = mm.lo(to_chunks(pass.v1.narrow(1, start, rows), chunk));  // [N, nc, C, dv + 1]
    at::Tensor prefix_states = saved.prefix_states[b].narrow(1, 0, chunks);  // [N, nc, dv + 1, m']
    at::Tensor intra_chunk = saved.intra_chunk[b].narrow(1, 0, chunks);      // [N, nc, C, C]
    const at::Tensor d_num_den =
        mm.lo(grad_num_den(to_chunks(d_out.narrow(1, start, rows), chunk),
                           to_chunks(out.narrow(1, start, rows), chunk),
                           saved.denominators[b].narrow(1, 0, chunks)));  // [N, nc, C, dv + 1]
    // d loss / d intra_chunk[i, l] for l <= i.
    const at::Tensor d_intra = mm.lo(mm(d_num_den, v1.transpose(-1, -2)).tril_());  // [N, nc, C, C]
    at::Tensor d_phi_q = mm(d_num_den, prefix_states).add_(mm(d_intra, phi_k));
    // d loss / d prefix state of each chunk.
    at::Tensor d_prefix_states = mm(d_num_den.transpose(-1, -2), phi_q);  // [N, nc, dv + 1, m']
    at::Tensor d_block_state = d_prefix_states.sum(1);                    // [N, dv + 1, m']
    // d loss / d each chunk's sums: every later chunk's prefix state holds them, and so do the later
    // blocks' (the sum over the chunks after each chunk, plus d_later_state).
    at::Tensor d_chunk_sums = d_prefix_states.cumsum(1)
                                  .neg_()
                                  .add_(d_block_state.unsqueeze(1))
                                  .add_(d_later_state.unsqueeze(1));  // [N, nc, dv + 1, m']
    at::Tensor d_phi_k = mm(v1, d_chunk_sums).add_(mm(d_intra.transpose(-1, -2), phi_q));
    at::Tensor d_v1 = mm(phi_k, d_chunk_sums.transpose(-1, -2))
                          .add_(mm(intra_chunk.transpose(-1, -2), d_num_den));  // [N, nc, C, dv + 1]
    grads.queries.narrow(1, start, rows)
        .copy_(query_map.input_grad(query_features, xq, {}, from_chunks(d_phi_q, rows)));
    grads.keys.narrow(1, start, rows)
        .copy_(key_map.input_grad(key_features, xk, valid, from_chunks(d_phi_k, rows)));
    grads.values.narrow(1, start, rows).copy_(from_chunks(d_v1, rows).narrow(2, 0, dv));
    d_later_state.add_(d_block_state);
    // Into the previous block's key units: its stabiliser is at most this one's.
    if (softmax && b > 0) {
      d_later_state.mul_((saved.stabilisers[b - 1] - saved.stabilisers[b]).exp_());  // <= 1
    }
  }
  return grads;
}

}  // namespace performer::core::favor
