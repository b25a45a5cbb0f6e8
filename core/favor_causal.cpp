// The causal form of FAVOR attention, and its backward: chunked prefix sums with batched tensor ops
// and no per-token loop. Rows go through in blocks of whole chunks of C rows; in a chunk c,
// out_c = (phi(Q_c) S_<c + tril(phi(Q_c) phi(K_c)^T) [V_c, 1]) split into numerator and normaliser,
// with S_<c the sum of [V, 1]^T phi(K) over all earlier chunks. No [L, m, dv] or L x L tensor is formed.
//
// Key stabilisers (issue 25): softmax and trig key features are divided by exp of a stabiliser, and a
// causal position must not see it set by a later key: in float32 a later logit above an earlier one
// by more than ~87 took every feature of the earlier key to 0. Each key j is made under r_j, the
// running maximum of the keys' log-scales up to j; a chunk's sums are kept under its last row's, R_c;
// and row i, which needs everything under r_i, rescales: the prefix state by exp(R_c-1 - r_i), key j of
// its own chunk by exp(r_j - r_i). Every factor is exp of a difference <= 0, and the key that sets r_i
// contributes a feature of exactly 1 to row i's normaliser, so no row with a real key is 0.
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

// Per-row stabilisers [N, r] -> [N, nc, C]; padding rows repeat the last row's (a chunk's last row then
// holds the chunk's maximum).
at::Tensor stabilisers_to_chunks(const at::Tensor& t, int64_t chunk) {
  const int64_t n = t.size(0), rows = t.size(1);
  const int64_t chunks = (rows + chunk - 1) / chunk, pad = chunks * chunk - rows;
  at::Tensor padded = pad == 0 ? t : at::cat({t, t.narrow(1, rows - 1, 1).expand({n, pad})}, 1);
  return padded.reshape({n, chunks, chunk});
}

// The rescalings between the stabilisers of one block (see the top of the file). Relu has no
// stabiliser: only `carry`, a plain prefix sum, is defined.
struct ChunkScales {
  at::Tensor carry;          // [N, nc + 1, nc + 1] exp(s_k - s_c) for k <= c, else 0, with s_0 the earlier
                             // blocks' stabiliser and s_c+1 = R_c: state_c = sum_k carry[c][k] sums_k
  at::Tensor key_to_chunk;   // [N, nc, C, 1] exp(r_j - R_c): key j into its chunk's sums
  at::Tensor prefix_to_row;  // [N, nc, C, 1] exp(R_c-1 - r_i): the chunk's prefix state into row i
  at::Tensor pairs;          // [N, nc, C, C] exp(r_j - r_i): key j of row i's chunk into row i (j <= i;
                             // above the diagonal it may be inf, and is cut off by tril)
};

// stabilisers [N, nc, C] from stabilisers_to_chunks() (undefined for relu); entry [N, 1]: the
// stabiliser of the state from earlier blocks.
ChunkScales chunk_scales(const at::Tensor& stabilisers, const at::Tensor& entry, int64_t chunks) {
  ChunkScales s;
  if (!stabilisers.defined()) {
    s.carry = at::ones({entry.size(0), chunks + 1, chunks + 1}, entry.options()).tril_();
    return s;
  }
  const at::Tensor chunk_last = stabilisers.select(2, stabilisers.size(2) - 1);  // [N, nc]
  const at::Tensor bounds = at::cat({entry, chunk_last}, 1);                      // [N, nc + 1]
  s.carry = (bounds.unsqueeze(1) - bounds.unsqueeze(2)).clamp_max_(0).exp_().tril_();
  s.key_to_chunk = (stabilisers - chunk_last.unsqueeze(2)).exp_().unsqueeze(-1);
  s.prefix_to_row = (bounds.narrow(1, 0, chunks).unsqueeze(2) - stabilisers).exp_().unsqueeze(-1);
  s.pairs = (stabilisers.unsqueeze(2) - stabilisers.unsqueeze(3)).exp_();
  return s;
}

// sum_k weights[c][k] terms_k for each row c of `weights` [N, rows, 1 + nc], with terms = [one,
// many_0, ..., many_nc-1]; one [N, ...] and many [N, nc, ...] hold F numbers a term. Returns [N, rows, F],
// contiguous (the batched products take it whole). The forward carries the earlier state and the chunk
// sums into prefix states with ChunkScales::carry; the backward carries their gradients back with its
// transpose.
at::Tensor weighted_sums(const at::Tensor& weights, const at::Tensor& one, const at::Tensor& many) {
  const int64_t n = many.size(0), chunks = many.size(1);
  return at::bmm(weights.narrow(2, 1, chunks).contiguous(), many.reshape({n, chunks, -1}))
      .addcmul_(weights.narrow(2, 0, 1), one.reshape({n, 1, -1}));
}

// The causal pieces of one block, in chunks: inputs [N, nc, C, *] and the prefix state before it.
// Values carry an extra column of ones (v1 = [v, 1]), so one product gives numerator and normaliser.
// Sums are kept transposed ([dv + 1, m']): with BLIS, [V, 1]^T phi(K) ran 1.25x faster than
// phi(K)^T [V, 1], and products taking them as a contiguous second factor up to 1.6x faster.
struct CausalBlock {
  at::Tensor prefix_states;  // exclusive prefix state at each chunk, under its s_c [N, nc, dv + 1, m']
  at::Tensor state_after;    // the state after the block, under its last row's stabiliser [N, dv + 1, m']
  at::Tensor intra_chunk;    // tril(phi(Q_c) phi(K_c)^T * pairs) [N, nc, C, C]
  at::Tensor num_den;        // [numerator, normaliser] [N, nc, C, dv + 1], zero normalisers replaced by 1
};

// phi_q, phi_k [N, nc, C, m'], v1 [N, nc, C, dv + 1]; earlier_state [N, dv + 1, m'] over earlier blocks.
CausalBlock causal_block(const at::Tensor& phi_q_, const at::Tensor& phi_k_, const at::Tensor& v1_,
                         const at::Tensor& earlier_state, const ChunkScales& scales, const Products& mm) {
  const at::Tensor phi_q = mm.lo(phi_q_), phi_k = mm.lo(phi_k_), v1 = mm.lo(v1_);
  const at::Tensor v1_to_chunk = scales.key_to_chunk.defined() ? mm.lo(v1_ * scales.key_to_chunk) : v1;
  const int64_t chunks = phi_q.size(1);
  CausalBlock b;
  const at::Tensor chunk_sums = mm(v1_to_chunk.transpose(-1, -2), phi_k);  // [N, nc, dv + 1, m']
  b.prefix_states = weighted_sums(scales.carry.narrow(1, 0, chunks), earlier_state, chunk_sums)
                        .view(chunk_sums.sizes());
  b.state_after = weighted_sums(scales.carry.narrow(1, chunks, 1), earlier_state, chunk_sums)
                      .view(earlier_state.sizes());
  b.intra_chunk = mm(phi_q, phi_k.transpose(-1, -2));  // [N, nc, C, C]
  if (scales.pairs.defined()) b.intra_chunk.mul_(scales.pairs);
  b.intra_chunk.tril_();
  b.num_den = mm(phi_q, b.prefix_states.transpose(-1, -2));
  if (scales.prefix_to_row.defined()) b.num_den.mul_(scales.prefix_to_row);
  b.num_den.add_(mm(b.intra_chunk, v1));
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
  result.out = at::empty({n, lq, dv}, opts);  // [N, Lq, dv]

  const int64_t blocks = (lq + block - 1) / block;
  const int64_t block_chunks = block / chunk;  // blocks hold whole chunks
  at::Tensor state = at::zeros({n, dv + 1, width}, opts);  // [V, 1]^T phi(K) over earlier blocks,
  at::Tensor running = no_key_maximum(n, opts);           // [N, 1] under their last key's stabiliser
  // Kept for the backward, which then only recomputes the features: O(L/C m dv + L C) memory.
  // One slot per block, so that a block's slice is contiguous (no copies in the batched products).
  saved.prefix_states = at::empty({blocks, n, block_chunks, dv + 1, width}, opts);
  saved.intra_chunk = at::empty({blocks, n, block_chunks, chunk, chunk}, opts);
  saved.denominators = at::empty({blocks, n, block_chunks, chunk, 1}, opts);
  if (kind != FeatureKind::relu) saved.stabilisers = at::empty({blocks, n, block_chunks, chunk}, opts);
  for (int64_t b = 0, start = 0; b < blocks; ++b, start += block) {
    const int64_t rows = std::min(block, lq - start), chunks = (rows + chunk - 1) / chunk;
    at::Tensor x = pass.ks.narrow(1, start, rows);
    at::Tensor valid = maybe_narrow(pass.valid, start, rows);
    auto query_features = query_map.compute(pass.qs.narrow(1, start, rows), {}, {}, keep);
    at::Tensor phi_q = query_features.phi;
    const at::Tensor entry = running;
    auto [phi_k, key_stabilisers] = key_map.causal_key_block(x, valid, running);  // no epsilon on causal keys
    if (keep) {
      // softmax: phi = e + eps, of which e is kept
      result.kept.queries.push_back(kind == FeatureKind::softmax ? query_features.exp_factor : phi_q);
      result.kept.keys.push_back(phi_k);
    }
    const at::Tensor stabilisers =  // [N, nc, C]
        key_stabilisers.defined() ? stabilisers_to_chunks(key_stabilisers, chunk) : at::Tensor();
    CausalBlock pieces = causal_block(to_chunks(phi_q, chunk), to_chunks(phi_k, chunk),
                                      to_chunks(pass.v1.narrow(1, start, rows), chunk), state,
                                      chunk_scales(stabilisers, entry, chunks), query_map.mm);
    result.out.narrow(1, start, rows).copy_(from_chunks(normalise(pieces.num_den), rows));
    saved.prefix_states[b].narrow(1, 0, chunks).copy_(pieces.prefix_states);
    saved.intra_chunk[b].narrow(1, 0, chunks).copy_(pieces.intra_chunk);
    saved.denominators[b].narrow(1, 0, chunks).copy_(pieces.num_den.narrow(-1, dv, 1));
    if (stabilisers.defined()) saved.stabilisers[b].narrow(1, 0, chunks).copy_(stabilisers);
    state = pieces.state_after;
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
  const int64_t blocks = saved.prefix_states.size(0), block_chunks = saved.prefix_states.size(2);
  Gradients grads = empty_gradients(pass);

  // d loss / d of the state a block hands to the later ones (under its last row's stabiliser): what the
  // later blocks' d[num, den]^T phi(Q) carry back (transposed like the forward's sums).
  at::Tensor d_later_state = at::zeros({n, saved.prefix_states.size(3), saved.prefix_states.size(4)},
                                       pass.qs.options());  // [N, dv + 1, m']
  for (int64_t b = blocks - 1; b >= 0; --b) {
    const int64_t start = b * block, rows = std::min(block, lq - start);
    const int64_t chunks = (rows + chunk - 1) / chunk;
    at::Tensor xq = pass.qs.narrow(1, start, rows), xk = pass.ks.narrow(1, start, rows);
    at::Tensor valid = maybe_narrow(pass.valid, start, rows);
    // The forward's stabilisers: this block's [N, nc, C] and the earlier blocks' (the previous block's
    // last row), or none (relu).
    at::Tensor stabilisers, entry = no_key_maximum(n, pass.qs.options());
    if (saved.stabilisers.defined()) {
      stabilisers = saved.stabilisers[b].narrow(1, 0, chunks);
      if (b > 0) entry = saved.stabilisers[b - 1].select(1, block_chunks - 1).narrow(1, chunk - 1, 1);
    }
    const ChunkScales scales = chunk_scales(stabilisers, entry, chunks);
    FeatureMap::Features query_features, key_features;
    if (features_kept) {
      // Softmax: the kept e gives phi = e + eps for queries; causal keys carry no epsilon.
      query_features = softmax ? FeatureMap::Features{kept.queries[b] + query_map.eps, {}, kept.queries[b]}
                               : FeatureMap::Features{kept.queries[b], {}, {}};
      key_features = FeatureMap::Features{kept.keys[b], {}, softmax ? kept.keys[b] : at::Tensor()};
    } else {
      query_features = query_map.compute(xq, {}, {}, true);
      const at::Tensor key_stabilisers =  // [N, r]
          stabilisers.defined() ? stabilisers.reshape({n, -1}).narrow(1, 0, rows) : at::Tensor();
      key_features = key_map.causal_key_features(xk, valid, key_stabilisers, true);
    }
    // Factors of several products: rounded once for bf16 products.
    const at::Tensor phi_q = mm.lo(to_chunks(query_features.phi, chunk));  // [N, nc, C, m']
    const at::Tensor phi_k = mm.lo(to_chunks(key_features.phi, chunk));    // [N, nc, C, m']
    const at::Tensor v1_ = to_chunks(pass.v1.narrow(1, start, rows), chunk);  // [N, nc, C, dv + 1]
    const at::Tensor v1 = mm.lo(v1_);
    const at::Tensor v1_to_chunk = scales.key_to_chunk.defined() ? mm.lo(v1_ * scales.key_to_chunk) : v1;
    at::Tensor prefix_states = saved.prefix_states[b].narrow(1, 0, chunks);  // [N, nc, dv + 1, m']
    at::Tensor intra_chunk = saved.intra_chunk[b].narrow(1, 0, chunks);      // [N, nc, C, C]
    const at::Tensor d_num_den_ =  // [N, nc, C, dv + 1]
        grad_num_den(to_chunks(d_out.narrow(1, start, rows), chunk), to_chunks(out.narrow(1, start, rows), chunk),
                     saved.denominators[b].narrow(1, 0, chunks));
    const at::Tensor d_num_den = mm.lo(d_num_den_);
    // Row i takes its chunk's prefix state rescaled to r_i: the gradient that state sees.
    const at::Tensor d_from_prefix =
        scales.prefix_to_row.defined() ? mm.lo(d_num_den_ * scales.prefix_to_row) : d_num_den;
    // d loss / d (phi(Q_c) phi(K_c)^T)[i, l] for l <= i.
    at::Tensor d_products = mm(d_num_den, v1.transpose(-1, -2));
    if (scales.pairs.defined()) d_products.mul_(scales.pairs);
    const at::Tensor d_intra = mm.lo(d_products.tril_());  // [N, nc, C, C]
    at::Tensor d_phi_q = mm(d_from_prefix, prefix_states).add_(mm(d_intra, phi_k));
    // d loss / d prefix state of each chunk; then, through the forward's carry, d loss / d each
    // chunk's sums and d loss / d the state from earlier blocks.
    const at::Tensor d_prefix_states = mm(d_from_prefix.transpose(-1, -2), phi_q);  // [N, nc, dv + 1, m']
    // The carry's transpose, its columns turned so that the later state's comes first, as
    // weighted_sums() takes it: [N, nc + 1, nc + 1].
    const at::Tensor carry_t = scales.carry.transpose(1, 2).roll(1, 2);
    const at::Tensor d_chunk_sums =  // [N, nc, dv + 1, m']
        weighted_sums(carry_t.narrow(1, 1, chunks), d_later_state, d_prefix_states)
            .view(d_prefix_states.sizes());
    at::Tensor d_phi_k = mm(v1_to_chunk, d_chunk_sums).add_(mm(d_intra.transpose(-1, -2), phi_q));
    at::Tensor d_v1 = mm(phi_k, d_chunk_sums.transpose(-1, -2));  // [N, nc, C, dv + 1]
    if (scales.key_to_chunk.defined()) d_v1.mul_(scales.key_to_chunk);
    d_v1.add_(mm(intra_chunk.transpose(-1, -2), d_num_den));
    grads.queries.narrow(1, start, rows)
        .copy_(query_map.input_grad(query_features, xq, {}, from_chunks(d_phi_q, rows)));
    grads.keys.narrow(1, start, rows)
        .copy_(key_map.input_grad(key_features, xk, valid, from_chunks(d_phi_k, rows)));
    grads.values.narrow(1, start, rows).copy_(from_chunks(d_v1, rows).narrow(2, 0, dv));
    // Into the previous block's units (its last row's stabiliser).
    d_later_state =
        weighted_sums(carry_t.narrow(1, 0, 1), d_later_state, d_prefix_states).view(d_later_state.sizes());
  }
  return grads;
}

}  // namespace performer::core::favor
