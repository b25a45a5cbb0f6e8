#include "core/favor.h"

#include <torch/csrc/autograd/custom_function.h>

#include <cmath>
#include <limits>
#include <vector>

#include "core/errors.h"

namespace performer::core::favor {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Start value of running maxima: finite, so exp(kNoMax - M) is 0 rather than nan for empty blocks.
constexpr double kNoMax = -1e30;
constexpr double kInf = std::numeric_limits<double>::infinity();
// Shift that takes a padded key's softmax logit far below kNoMax.
constexpr double kPadShift = 1e31;

// d^-1/4 on queries and keys turns q.k / sqrt(d) into q.k, the kernel the features estimate. It is
// applied through the projection (w d^-1/4) and the norms (|x|^2 d^-1/2), so that q and k are not
// copied to scale them.
double input_scale(int64_t dim) { return std::pow(static_cast<double>(dim), -0.25); }

// d (|x|^2 / (2 sqrt(d))) / dx = x / sqrt(d): the factor 1 / sqrt(d) (the input scale squared).
double norm_grad_scale(const at::Tensor& x) { return 1.0 / std::sqrt(static_cast<double>(x.size(-1))); }

// |x d^-1/4|^2 / 2 for rows x [N, r, d]: [N, r, 1].
at::Tensor half_sq_norm(const at::Tensor& x) { return (x * x).sum(-1, true).mul_(0.5 * norm_grad_scale(x)); }

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
struct FeatureMap {
  FeatureKind kind;
  Role role;
  double eps;    // softmax: added relative to the stabilised max (0 for causal keys); relu: absolute
  at::Tensor w;   // [m, d], times d^-1/4
  at::Tensor wt;  // [d, m], contiguous: with BLIS, x [4096, 64] times a transposed view of w ran 2x slower
  Products mm;    // bf16 products for softmax and relu features (trig, for comparison only, stays float)

  FeatureMap(FeatureKind kind_, Role role_, double eps_, const at::Tensor& w_, Products mm_ = {})
      : kind(kind_), role(role_), eps(eps_), w(mm_.lo(w_)), wt(mm_.lo(w_.t().contiguous())), mm(mm_) {
    if (kind == FeatureKind::trig) {
      mm = {};
      w = w_;
      wt = w_.t().contiguous();
    }
  }

  at::Tensor project(const at::Tensor& x) const { return mm(x, wt); }  // x W^T [N, r, m]

  struct Out {
    at::Tensor phi;  // [N, r, m'] features (zero rows for padded keys)
    at::Tensor a;    // [N, r, m] projections x W^T (trig; kept for the backward)
    at::Tensor e;    // softmax: exp part [N, r, m]; trig keys: row factor [N, r, 1]
  };

  // Softmax keys: u = w.x - |x|^2/2 - s, [N, r, m], with one pass for both shifts. Padded keys get
  // the shift kPadShift: u ~ -1e31 drops out of every maximum and exp(u - stab) is exactly 0.
  // s [N, 1, 1] or undefined (0).
  at::Tensor key_logits(const at::Tensor& x, const at::Tensor& valid, const at::Tensor& s) const {
    at::Tensor shift = half_sq_norm(x);  // [N, r, 1]
    if (s.defined()) shift.add_(s);
    if (valid.defined()) shift.masked_fill_(valid.logical_not().unsqueeze(-1), kPadShift);
    return project(x).sub_(shift);
  }

  // Softmax only: the exponential part e of the features (phi = e + eps). Queries: exp(u - max_j u_j)
  // with u = w.x (|x|^2/2 is constant along the row and cancels); keys: exp(w.x - |x|^2/2 - stab).
  at::Tensor exp_part(const at::Tensor& x, const at::Tensor& valid, const at::Tensor& stab) const {
    if (role == Role::key) return key_logits(x, valid, stab).exp_();
    at::Tensor u = project(x);  // [N, r, m]
    return u.sub_(u.amax(-1, true)).exp_();
  }

  Out compute(const at::Tensor& x, const at::Tensor& valid, const at::Tensor& stab, bool keep) const {
    Out out;
    if (kind == FeatureKind::softmax) {
      at::Tensor e = exp_part(x, valid, stab);  // [N, r, m], 0 on padded keys
      if (keep) out.e = e;
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
    at::Tensor a = project(x);  // [N, r, m]
    const bool masked = role == Role::key && valid.defined();
    if (kind == FeatureKind::relu) {
      // In place: the backward's gate a > 0 is phi > eps (padded keys: phi = 0), so a need not be kept.
      out.phi = a.clamp_min_(0);
      if (eps != 0) out.phi.add_(eps);
      if (masked) out.phi.mul_(valid.unsqueeze(-1));
      return out;
    } else {
      // trig: exp(|x|^2/2) [sin, cos]; the row factor cancels for queries, keys need it (stabilised).
      out.phi = at::cat({at::sin(a), at::cos(a)}, -1);  // [N, r, 2m]
      if (role == Role::key) {
        out.e = half_sq_norm(x).sub_(stab);  // [N, r, 1]
        if (masked) out.e.masked_fill_(valid.logical_not().unsqueeze(-1), -kInf);
        out.e.exp_();
        out.phi.mul_(out.e);
      }
    }
    if (keep) out.a = a;
    return out;
  }

  // compute() without the softmax epsilon, which the bidirectional path carries through row sums
  // (phi = e + eps): softmax gives phi = e (and e), the other kinds their usual features.
  Out compute_without_eps(const at::Tensor& x, const at::Tensor& valid, const at::Tensor& stab,
                          bool keep) const {
    if (kind != FeatureKind::softmax) return compute(x, valid, stab, keep);
    Out out;
    out.e = exp_part(x, valid, stab);
    out.phi = out.e;
    return out;
  }

  // Keys only: features of one block under the running key maximum. For softmax the block may raise
  // the maximum; `state` accumulated under the old one is then rescaled (as flash attention does).
  // Softmax features come without the epsilon, which the caller adds once for all keys.
  at::Tensor key_block(const at::Tensor& x, const at::Tensor& valid, at::Tensor& stab, at::Tensor& state) const {
    if (kind != FeatureKind::softmax) return compute(x, valid, stab, false).phi;
    at::Tensor u = key_logits(x, valid, {});
    at::Tensor new_stab = at::maximum(stab, u.amax({1, 2}, true));
    state.mul_((stab - new_stab).exp_());
    stab = new_stab;
    return u.sub_(stab).exp_();
  }

  // d loss / d x for a block, given d loss / d phi (a temporary, overwritten); f from
  // compute(..., keep = true).
  at::Tensor input_grad(const Out& f, const at::Tensor& x, const at::Tensor& valid, at::Tensor dphi) const {
    switch (kind) {
      case FeatureKind::softmax: {
        // phi = exp(w.x - |x|^2/(2 sqrt(d)) - stab) + eps (w scaled), stab held constant:
        // d/dx = (w - x / sqrt(d)) * exp part.
        at::Tensor da = dphi.mul_(f.e);
        return mm(da, w).sub_(da.sum(-1, true).mul_(norm_grad_scale(x)) * x);
      }
      case FeatureKind::relu:
        // relu'(a) = [a > 0] = [phi > eps]; padded keys have phi = 0.
        return mm(at::threshold_backward(dphi, f.phi, eps), w);
      case FeatureKind::trig: {
        const int64_t m = f.a.size(-1);
        at::Tensor da = dphi.narrow(-1, 0, m) * at::cos(f.a) - dphi.narrow(-1, m, m) * at::sin(f.a);
        if (role == Role::query) return at::matmul(da, w);
        da.mul_(f.e);
        return at::matmul(da, w).add_((dphi * f.phi).sum(-1, true).mul_(norm_grad_scale(x)) * x);
      }
    }
    return {};
  }
};

}  // namespace

bool keeps_features(FeatureKind kind) { return kind != FeatureKind::trig; }

int64_t fitted_chunk(int64_t chunk, int64_t length) {
  const int64_t chunks = std::max<int64_t>(1, (length + chunk - 1) / chunk);
  const int64_t rows = (length + chunks - 1) / chunks;
  return std::min(chunk, (rows + 7) / 8 * 8);
}

namespace {

// Number of feature columns for a projection of m rows.
int64_t feature_width(FeatureKind kind, int64_t m) { return kind == FeatureKind::trig ? 2 * m : m; }

// Rows per block: about 4 MiB of features for all N sequences at once, at least 512 rows (many short
// sequences: B16 H4 L512 relu forward+backward, alternating in one process, took 1.5x the time with
// 64-row blocks and 1.08x with 256-row blocks than with 512), a multiple of the chunk.
int64_t pick_block_rows(int64_t requested, int64_t n, int64_t width, int64_t length, int64_t chunk,
                        bool causal) {
  int64_t rows = requested > 0 ? requested
                               : std::max<int64_t>(512, (int64_t{4} << 20) / (4 * n * width));
  if (causal) rows = (rows + chunk - 1) / chunk * chunk;
  int64_t cap = causal ? (length + chunk - 1) / chunk * chunk : length;
  return std::max<int64_t>(1, std::min(rows, cap));
}

at::Tensor maybe_narrow(const at::Tensor& t, int64_t start, int64_t rows) {
  return t.defined() ? t.narrow(1, start, rows) : t;
}

// Pads [N, r, c] to [N, nc, C, c] with zero rows at the end.
at::Tensor to_chunks(const at::Tensor& t, int64_t chunk) {
  const int64_t r = t.size(1);
  const int64_t nc = (r + chunk - 1) / chunk;
  at::Tensor p = nc * chunk == r ? t : at::constant_pad_nd(t, {0, 0, 0, nc * chunk - r});
  return p.reshape({t.size(0), nc, chunk, t.size(2)});
}

at::Tensor from_chunks(const at::Tensor& t, int64_t rows) {  // [N, nc, C, c] -> [N, rows, c]
  return t.reshape({t.size(0), t.size(1) * t.size(2), t.size(3)}).narrow(1, 0, rows);
}

// The causal pieces of one block, in chunks: inputs [N, nc, C, *] and the prefix state before it.
// Values carry an extra column of ones (v1 = [v, 1]), so one product gives numerator and normaliser.
// Sums are kept transposed ([dv + 1, m']): with BLIS, [V, 1]^T phi(K) ran 1.25x faster than
// phi(K)^T [V, 1], and products taking them as a contiguous second factor up to 1.6x faster.
struct CausalBlock {
  at::Tensor sct;    // per-chunk sums [V_c, 1]^T phi(K_c) [N, nc, dv + 1, m]
  at::Tensor sxt;    // exclusive prefix state at each chunk [N, nc, dv + 1, m]
  at::Tensor intra;  // tril(phi(Q_c) phi(K_c)^T) [N, nc, C, C]
  at::Tensor res;    // [numerator, normaliser] [N, nc, C, dv + 1], zero normalisers replaced by 1
};

CausalBlock causal_block(const at::Tensor& pq_, const at::Tensor& pk_, const at::Tensor& pv1_,
                         const at::Tensor& s0t, const Products& mm) {
  const at::Tensor pq = mm.lo(pq_), pk = mm.lo(pk_), pv1 = mm.lo(pv1_);
  CausalBlock b;
  b.sct = mm(pv1.transpose(-1, -2), pk);                       // [N, nc, dv + 1, m]
  b.sxt = b.sct.cumsum(1).sub_(b.sct).add_(s0t.unsqueeze(1));  // [N, nc, dv + 1, m]
  b.intra = mm(pq, pk.transpose(-1, -2)).tril_();              // [N, nc, C, C]
  b.res = mm(pq, b.sxt.transpose(-1, -2)).add_(mm(b.intra, pv1));
  at::Tensor den = b.res.narrow(-1, b.res.size(-1) - 1, 1);
  den.masked_fill_(den == 0, 1);
  return b;
}

// Appends the column of ones: [N, L, dv] -> [N, L, dv + 1].
at::Tensor with_ones(const at::Tensor& v) {
  return at::cat({v, at::ones({v.size(0), v.size(1), 1}, v.options())}, -1);
}

// Splits [numerator, normaliser] rows into out = num / den; res [..., dv + 1] -> [..., dv].
at::Tensor normalise(const at::Tensor& res) {
  const int64_t dv = res.size(-1) - 1;
  return res.narrow(-1, 0, dv) / res.narrow(-1, dv, 1);
}

// d loss / d [num, den] from d loss / d out: [g / den, -(g . out) / den]. g, out [..., dv]; den [..., 1].
at::Tensor grad_num_den(const at::Tensor& g, const at::Tensor& out, const at::Tensor& den) {
  return at::cat({g / den, (g * out).sum(-1, true).div_(den).neg_()}, -1);
}

// Key stabiliser for trig features: max of |k|^2/2 over valid keys, [N, 1, 1].
at::Tensor trig_key_stabiliser(const at::Tensor& ks, const at::Tensor& valid) {
  at::Tensor h = half_sq_norm(ks);  // [N, L, 1]
  if (valid.defined()) h = h.masked_fill(valid.logical_not().unsqueeze(-1), kNoMax);
  return h.amax({1, 2}, true);
}

class FavorFunction : public torch::autograd::Function<FavorFunction> {
 public:
  // qs, ks: [N, L, d]; v: [N, Lk, dv]; w: [m, d] times d^-1/4; valid: [N, Lk] bool or undefined.
  static at::Tensor forward(AutogradContext* ctx, at::Tensor qs, at::Tensor ks, at::Tensor v,
                            at::Tensor w, at::Tensor valid, int64_t kind_id, bool causal,
                            int64_t chunk, int64_t block_rows, double eps, bool keep_features,
                            bool bf16) {
    at::NoGradGuard no_grad;
    if (valid.numel() == 0) valid = at::Tensor();  // no padding (see prepare())
    const Products mm{bf16};
    const auto kind = static_cast<FeatureKind>(kind_id);
    const int64_t n = qs.size(0), lq = qs.size(1), lk = ks.size(1), dv = v.size(2);
    const int64_t width = feature_width(kind, w.size(0));
    if (causal) chunk = fitted_chunk(chunk, lq);
    const int64_t block = pick_block_rows(block_rows, n, width, std::max(lq, lk), chunk, causal);
    // Causal keys get no epsilon: it would not cancel, and position i would see later keys' maximum.
    const double key_eps = kind == FeatureKind::softmax && causal ? 0.0 : eps;
    FeatureMap fq(kind, Role::query, eps, w, mm);
    FeatureMap fk(kind, Role::key, key_eps, w, mm);
    const auto opts = qs.options();
    at::Tensor stab = kind == FeatureKind::trig ? trig_key_stabiliser(ks, valid)
                                                : at::full({n, 1, 1}, kNoMax, opts);
    at::Tensor out = at::empty({n, lq, dv}, opts);
    std::vector<at::Tensor> saved;
    // Features kept for the backward, one tensor per block (no copies): softmax keeps the exp part e,
    // relu its features; trig always recomputes. Keys of the bidirectional softmax path were made under
    // the running stabiliser of their block (kept in key_stabs), which the backward rescales.
    const bool keep = keep_features && keeps_features(kind) &&
                      (qs.requires_grad() || ks.requires_grad() || v.requires_grad());  // not in inference
    std::vector<at::Tensor> q_kept, k_kept;

    const at::Tensor v1 = with_ones(v);  // [N, Lk, dv + 1]
    if (!causal) {
      // phi(K)^T [V, 1] is accumulated transposed, kvt = [V, 1]^T phi(K) [N, dv + 1, m']: with BLIS
      // that product ran 1.3x faster than phi(K)^T [V, 1], and the backward's products take kvt as
      // their second factor, which ran 2x faster contiguous than as a transposed view.
      at::Tensor kvt = at::zeros({n, dv + 1, width}, opts);
      const bool keep_stabs = keep && kind == FeatureKind::softmax;
      at::Tensor key_stabs;
      if (keep_stabs) key_stabs = at::empty({(lk + block - 1) / block, n, 1, 1}, opts);
      for (int64_t b = 0, r0 = 0; r0 < lk; ++b, r0 += block) {
        const int64_t r = std::min(block, lk - r0);
        at::Tensor x = ks.narrow(1, r0, r);
        at::Tensor valid_b = maybe_narrow(valid, r0, r);
        at::Tensor phi = fk.key_block(x, valid_b, stab, kvt);  // softmax: epsilon part added below
        fk.mm.accumulate(kvt, v1.narrow(1, r0, r).transpose(1, 2), phi);
        if (keep) k_kept.push_back(phi);
        if (keep_stabs) key_stabs[b].copy_(stab);
      }
      if (kind == FeatureKind::softmax && key_eps > 0) {
        // phi(k) = exp(...) + eps on valid keys: the eps part adds eps * sum of valid [v, 1] to every row.
        at::Tensor sum = valid.defined() ? (v1 * valid.unsqueeze(-1)).sum(1) : v1.sum(1);  // [N, dv + 1]
        kvt.add_(sum.unsqueeze(2), key_eps);
      }
      const at::Tensor kv = kvt.transpose(1, 2);  // [N, m', dv + 1], a view (as fast here)
      // Softmax queries: phi(q) = e + eps, so phi(q) kv = e kv + eps (sum of kv's rows): no pass
      // over [N, r, m] for the epsilon.
      const at::Tensor kv_eps =
          kind == FeatureKind::softmax && eps != 0 ? kv.sum(1, true).mul_(eps) : at::Tensor();
      at::Tensor dens = at::empty({n, lq, 1}, opts);  // normalisers, kept for the backward
      for (int64_t r0 = 0; r0 < lq; r0 += block) {
        const int64_t r = std::min(block, lq - r0);
        at::Tensor xq = qs.narrow(1, r0, r);
        at::Tensor phi = fq.compute_without_eps(xq, {}, {}, false).phi;
        if (keep) q_kept.push_back(phi);
        at::Tensor res = fq.mm(phi, kv);  // [N, r, dv + 1]
        if (kv_eps.defined()) res.add_(kv_eps);
        at::Tensor den = res.narrow(2, dv, 1);
        den.masked_fill_(den == 0, 1);
        dens.narrow(1, r0, r).copy_(den);
        out.narrow(1, r0, r).copy_(normalise(res));
      }
      saved = {kvt, stab, dens};
      if (keep_stabs) saved.push_back(key_stabs);
    } else {
      const int64_t blocks = (lq + block - 1) / block;
      const int64_t block_chunks = block / chunk;  // blocks hold whole chunks
      at::Tensor st = at::zeros({n, dv + 1, width}, opts);  // [V, 1]^T phi(K) over earlier blocks
      // Kept for the backward, which then only recomputes the features: O(L/C m dv + L C) memory.
      // One slot per block, so that a block's slice is contiguous (no copies in the batched products).
      at::Tensor prefix = at::empty({blocks, n, block_chunks, dv + 1, width}, opts);  // per chunk
      at::Tensor intra = at::empty({blocks, n, block_chunks, chunk, chunk}, opts);  // tril(phi(Q_c) phi(K_c)^T)
      at::Tensor den = at::empty({blocks, n, block_chunks, chunk, 1}, opts);  // normalisers (1 on padding)
      at::Tensor stabs = at::empty({blocks, n, 1, 1}, opts);
      for (int64_t b = 0, r0 = 0; b < blocks; ++b, r0 += block) {
        const int64_t r = std::min(block, lq - r0);
        at::Tensor x = ks.narrow(1, r0, r);
        at::Tensor valid_b = maybe_narrow(valid, r0, r);
        auto fqo = fq.compute(qs.narrow(1, r0, r), {}, {}, keep);
        at::Tensor phi_q = fqo.phi;
        at::Tensor phi_k = fk.key_block(x, valid_b, stab, st);  // no epsilon on causal keys
        if (keep) {
          q_kept.push_back(kind == FeatureKind::softmax ? fqo.e : phi_q);  // softmax: phi = e + eps
          k_kept.push_back(phi_k);
        }
        stabs[b].copy_(stab);
        CausalBlock cb = causal_block(to_chunks(phi_q, chunk), to_chunks(phi_k, chunk),
                                      to_chunks(v1.narrow(1, r0, r), chunk), st, fq.mm);
        out.narrow(1, r0, r).copy_(from_chunks(normalise(cb.res), r));
        const int64_t nc = cb.sct.size(1);
        prefix[b].narrow(1, 0, nc).copy_(cb.sxt);
        intra[b].narrow(1, 0, nc).copy_(cb.intra);
        den[b].narrow(1, 0, nc).copy_(cb.res.narrow(-1, dv, 1));
        st.add_(cb.sct.sum(1));
      }
      saved = {prefix, intra, den, stabs};
    }
    ctx->saved_data["kind"] = kind_id;
    ctx->saved_data["causal"] = causal;
    ctx->saved_data["chunk"] = chunk;
    ctx->saved_data["block"] = block;
    ctx->saved_data["eps"] = eps;
    ctx->saved_data["key_eps"] = key_eps;
    ctx->saved_data["has_mask"] = valid.defined();
    ctx->saved_data["bf16"] = bf16;
    std::vector<at::Tensor> to_save = {qs, ks, v, w, valid.defined() ? valid : at::empty({0}), out};
    to_save.insert(to_save.end(), saved.begin(), saved.end());
    ctx->saved_data["first_kept"] = static_cast<int64_t>(to_save.size());
    ctx->saved_data["q_kept"] = static_cast<int64_t>(q_kept.size());
    to_save.insert(to_save.end(), q_kept.begin(), q_kept.end());
    to_save.insert(to_save.end(), k_kept.begin(), k_kept.end());
    ctx->save_for_backward(to_save);
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    at::NoGradGuard no_grad;
    auto sv = ctx->get_saved_variables();
    const at::Tensor qs = sv[0], ks = sv[1], v = sv[2], w = sv[3], out = sv[5];
    const at::Tensor valid = ctx->saved_data["has_mask"].toBool() ? sv[4] : at::Tensor();
    const auto kind = static_cast<FeatureKind>(ctx->saved_data["kind"].toInt());
    const bool causal = ctx->saved_data["causal"].toBool();
    const int64_t chunk = ctx->saved_data["chunk"].toInt();
    const int64_t block = ctx->saved_data["block"].toInt();
    const Products products{ctx->saved_data["bf16"].toBool()};
    FeatureMap fq(kind, Role::query, ctx->saved_data["eps"].toDouble(), w, products);
    FeatureMap fk(kind, Role::key, ctx->saved_data["key_eps"].toDouble(), w, products);
    const Products& mm = fq.mm;  // float for trig
    const at::Tensor g = grads[0].contiguous();  // [N, Lq, dv]
    const int64_t n = qs.size(0), lq = qs.size(1), lk = ks.size(1);
    const bool softmax = kind == FeatureKind::softmax;
    const int64_t first_kept = ctx->saved_data["first_kept"].toInt();
    const int64_t q_kept = ctx->saved_data["q_kept"].toInt();
    const bool kept = q_kept > 0;  // every block's features, or none
    // The forward's features of block b: softmax {phi, e} = {e (+ eps added by the caller), e}.
    auto kept_query = [&](int64_t b) { return sv[first_kept + b]; };
    auto kept_key = [&](int64_t b) { return sv[first_kept + q_kept + b]; };
    at::Tensor dq = at::empty_like(qs), dk = at::empty_like(ks), dv = at::empty_like(v);

    const at::Tensor v1 = with_ones(v);  // [N, Lk, dv + 1]
    const int64_t dvalue = v.size(2);
    if (!causal) {
      const at::Tensor kvt = sv[6], stab = sv[7], dens = sv[8];  // [N, dv + 1, m'], [N, 1, 1], [N, Lq, 1]
      // Accumulated transposed, as in the forward.
      at::Tensor dkvt = at::zeros_like(kvt);
      // Softmax features are handled as their exp part e; the epsilon (phi = e + eps, on valid keys)
      // enters through row sums, as in the forward.
      const double q_eps = softmax ? fq.eps : 0.0, k_eps = softmax ? fk.eps : 0.0;
      for (int64_t b = 0, r0 = 0; r0 < lq; ++b, r0 += block) {
        const int64_t r = std::min(block, lq - r0);
        at::Tensor x = qs.narrow(1, r0, r);
        auto f = kept ? FeatureMap::Out{kept_query(b), {}, kept_query(b)}
                      : fq.compute_without_eps(x, {}, {}, true);
        const at::Tensor den = dens.narrow(1, r0, r);  // [N, r, 1]
        at::Tensor gnd = grad_num_den(g.narrow(1, r0, r), out.narrow(1, r0, r), den);  // [N, r, dv + 1]
        mm.accumulate(dkvt, gnd.transpose(1, 2), f.phi);
        if (q_eps != 0) dkvt.add_(gnd.sum(1).unsqueeze(2), q_eps);
        dq.narrow(1, r0, r).copy_(fq.input_grad(f, x, {}, mm(gnd, kvt)));
      }
      const at::Tensor dkv = dkvt.transpose(1, 2).contiguous();  // [N, m', dv + 1]
      const at::Tensor dv_eps =
          k_eps != 0 ? dkv.narrow(2, 0, dvalue).sum(1, true).mul_(k_eps) : at::Tensor();  // [N, 1, dv]
      const at::Tensor key_stabs = kept && softmax ? sv[9] : at::Tensor();
      for (int64_t b = 0, r0 = 0; r0 < lk; ++b, r0 += block) {
        const int64_t r = std::min(block, lk - r0);
        at::Tensor x = ks.narrow(1, r0, r);
        at::Tensor valid_b = maybe_narrow(valid, r0, r);
        auto f = kept ? FeatureMap::Out{kept_key(b), {}, kept_key(b)}
                      : fk.compute_without_eps(x, valid_b, stab, true);
        // Kept softmax keys are e under this block's stabiliser: e_true = e * c with
        // c = exp(stab_b - stab) [N, 1, 1], folded into dkv (dphi and dv are linear in it).
        const at::Tensor c = key_stabs.defined() ? (key_stabs[b] - stab).exp_() : at::Tensor();
        at::Tensor dphi = mm(v1.narrow(1, r0, r), c.defined() ? dkvt * c : dkvt);  // [N, r, m']
        at::Tensor dv_b = mm(f.phi, dkv.narrow(2, 0, dvalue));
        if (c.defined()) dv_b.mul_(c);
        if (dv_eps.defined()) {
          dv_b.add_(valid_b.defined() ? valid_b.unsqueeze(-1).to(dv_eps.scalar_type()) * dv_eps : dv_eps);
        }
        dv.narrow(1, r0, r).copy_(dv_b);
        dk.narrow(1, r0, r).copy_(fk.input_grad(f, x, valid_b, dphi));
      }
    } else {
      const at::Tensor prefix = sv[6], intra_all = sv[7], den_all = sv[8], stabs = sv[9];
      const int64_t blocks = stabs.size(0);
      // Suffix sum over later blocks of d[num, den]^T phi(Q), in this block's key units (transposed
      // like the forward's sums).
      at::Tensor rst = at::zeros({n, prefix.size(3), prefix.size(4)}, qs.options());  // [N, dv + 1, m']
      for (int64_t b = blocks - 1; b >= 0; --b) {
        const int64_t r0 = b * block, r = std::min(block, lq - r0);
        const int64_t nc = (r + chunk - 1) / chunk;
        at::Tensor xq = qs.narrow(1, r0, r), xk = ks.narrow(1, r0, r);
        at::Tensor valid_b = maybe_narrow(valid, r0, r);
        FeatureMap::Out fqo, fko;
        if (kept) {
          // Softmax: the kept e gives phi = e + eps for queries; causal keys carry no epsilon.
          fqo = softmax ? FeatureMap::Out{kept_query(b) + fq.eps, {}, kept_query(b)}
                        : FeatureMap::Out{kept_query(b), {}, {}};
          fko = FeatureMap::Out{kept_key(b), {}, softmax ? kept_key(b) : at::Tensor()};
        } else {
          fqo = fq.compute(xq, {}, {}, true);
          fko = fk.compute(xk, valid_b, stabs[b], true);
        }
        // Factors of several products: rounded once for bf16 products.
        const at::Tensor pq = mm.lo(to_chunks(fqo.phi, chunk)), pk = mm.lo(to_chunks(fko.phi, chunk));
        const at::Tensor pv1 = mm.lo(to_chunks(v1.narrow(1, r0, r), chunk));
        at::Tensor sxt = prefix[b].narrow(1, 0, nc), intra = intra_all[b].narrow(1, 0, nc);
        const at::Tensor gnd = mm.lo(grad_num_den(to_chunks(g.narrow(1, r0, r), chunk),
                                                  to_chunks(out.narrow(1, r0, r), chunk),
                                                  den_all[b].narrow(1, 0, nc)));  // [N, nc, C, dv + 1]
        // d loss / d intra[i, l] for l <= i.
        const at::Tensor p = mm.lo(mm(gnd, pv1.transpose(-1, -2)).tril_());  // [N, nc, C, C]
        at::Tensor dphi_q = mm(gnd, sxt).add_(mm(p, pk));
        at::Tensor tct = mm(gnd.transpose(-1, -2), pq);  // [N, nc, dv + 1, m']
        at::Tensor tct_total = tct.sum(1);
        // Sum over the chunks after each chunk, plus the later blocks.
        at::Tensor rxt = tct.cumsum(1).neg_().add_(tct_total.unsqueeze(1)).add_(rst.unsqueeze(1));
        at::Tensor dphi_k = mm(pv1, rxt).add_(mm(p.transpose(-1, -2), pq));
        at::Tensor dv1 = mm(pk, rxt.transpose(-1, -2)).add_(mm(intra.transpose(-1, -2), gnd));
        dq.narrow(1, r0, r).copy_(fq.input_grad(fqo, xq, {}, from_chunks(dphi_q, r)));
        dk.narrow(1, r0, r).copy_(fk.input_grad(fko, xk, valid_b, from_chunks(dphi_k, r)));
        dv.narrow(1, r0, r).copy_(from_chunks(dv1, r).narrow(2, 0, dvalue));
        rst.add_(tct_total);
        if (softmax && b > 0) rst.mul_((stabs[b - 1] - stabs[b]).exp_());  // <= 1
      }
    }
    return {dq, dk, dv, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(),
            at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

struct Prepared {
  at::Tensor qs, ks, v, w, valid;  // [N, Lq, d], [N, Lk, d], [N, Lk, dv], [m, d] d^-1/4, [N, Lk] bool
};

// Folds batch and heads, moves to the float32 (or double) compute type and scales the projection by
// d^-1/4.
Prepared prepare(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                 const AttentionOptions& options, const at::Tensor& key_padding_mask) {
  const int64_t b = q.size(0), h = q.size(1), d = q.size(3);
  const auto compute = q.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  require_config(options.projection.defined(), "favor attention needs a projection matrix [m, d]");
  require_config(options.projection.dim() == 2 && options.projection.size(1) == d,
                 "projection must be [m, " + std::to_string(d) + "], got " +
                     std::to_string(options.projection.dim()) + "-d tensor");
  Prepared p;
  // The scale goes into w (and the norms): scaling q and k here took a pass over each, and another in
  // the backward.
  p.qs = q.to(compute).reshape({b * h, q.size(2), d}).contiguous();
  p.ks = k.to(compute).reshape({b * h, k.size(2), d}).contiguous();
  p.v = v.to(compute).reshape({b * h, v.size(2), v.size(3)}).contiguous();
  p.w = (options.projection.to(q.device(), compute) * input_scale(d)).contiguous();
  // Autograd functions in LibTorch 1.13 reject undefined inputs: an empty mask stands for none.
  p.valid = at::empty({0}, q.options().dtype(at::kBool));
  if (key_padding_mask.defined()) {
    p.valid = key_padding_mask.to(q.device(), at::kBool)
                  .logical_not()
                  .unsqueeze(1)
                  .expand({b, h, k.size(2)})
                  .reshape({b * h, k.size(2)});
  }
  return p;
}

double epsilon_for(FeatureKind kind, const AttentionOptions& options) {
  return kind == FeatureKind::relu ? options.relu_epsilon
                                   : kind == FeatureKind::softmax ? options.softmax_epsilon : 0.0;
}

}  // namespace

at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, FeatureKind kind,
                     const AttentionOptions& options, const at::Tensor& key_padding_mask) {
  require_config(options.causal_chunk_size > 0, "causal_chunk_size must be positive");
  Prepared p = prepare(q, k, v, options, key_padding_mask);
  at::Tensor out = FavorFunction::apply(p.qs, p.ks, p.v, p.w, p.valid, static_cast<int64_t>(kind),
                                        options.causal, options.causal_chunk_size,
                                        options.block_rows, epsilon_for(kind, options),
                                        options.keep_features,
                                        options.bf16_products && p.qs.scalar_type() == at::kFloat);
  return out.view({q.size(0), q.size(1), q.size(2), v.size(3)}).to(v.scalar_type());
}

std::pair<at::Tensor, at::Tensor> head_features(const at::Tensor& q, const at::Tensor& k,
                                                FeatureKind kind, const AttentionOptions& options,
                                                const at::Tensor& key_padding_mask, int64_t batch,
                                                int64_t head) {
  at::NoGradGuard no_grad;
  Prepared p = prepare(q, k, k.narrow(3, 0, 1), options, key_padding_mask);
  const int64_t row = batch * q.size(1) + head;
  at::Tensor xq = p.qs.narrow(0, row, 1), xk = p.ks.narrow(0, row, 1);
  at::Tensor valid = p.valid.numel() > 0 ? p.valid.narrow(0, row, 1) : at::Tensor();
  const double eps = epsilon_for(kind, options);
  const double key_eps = kind == FeatureKind::softmax && options.causal ? 0.0 : eps;
  FeatureMap fq(kind, Role::query, eps, p.w);
  FeatureMap fk(kind, Role::key, key_eps, p.w);
  at::Tensor stab;
  if (kind == FeatureKind::trig) stab = trig_key_stabiliser(xk, valid);
  if (kind == FeatureKind::softmax) stab = fk.key_logits(xk, valid, {}).amax({1, 2}, true);
  return {fq.compute(xq, {}, {}, false).phi[0], fk.compute(xk, valid, stab, false).phi[0]};
}

}  // namespace performer::core::favor
