// The FAVOR entry point: folds batch and heads, prepares the inputs, and runs one autograd function that
// dispatches to the bidirectional (core/favor_bidirectional.cpp) or the causal (core/favor_causal.cpp)
// algorithm, forward and backward. Feature maps are in core/favor_features.cpp.
#include "core/favor.h"

#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <tuple>
#include <vector>

#include "core/errors.h"
#include "core/favor_internal.h"

namespace performer::core::favor {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

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

// Appends the column of ones: [N, L, dv] -> [N, L, dv + 1].
at::Tensor with_ones(const at::Tensor& v) {
  return at::cat({v, at::ones({v.size(0), v.size(1), 1}, v.options())}, -1);
}

// The scalars a call runs with, fixed by its forward; the backward reads them back from saved_data.
struct Settings {
  FeatureKind kind;
  bool causal;
  int64_t chunk;       // causal rows per chunk, from fitted_chunk()
  int64_t block_rows;  // from pick_block_rows()
  double eps;          // query epsilon, from epsilon_for()
  double key_eps;      // from key_epsilon()
  bool bf16;           // Products::bf16

  void store(AutogradContext* ctx) const {
    ctx->saved_data["kind"] = static_cast<int64_t>(kind);
    ctx->saved_data["causal"] = causal;
    ctx->saved_data["chunk"] = chunk;
    ctx->saved_data["block"] = block_rows;
    ctx->saved_data["eps"] = eps;
    ctx->saved_data["key_eps"] = key_eps;
    ctx->saved_data["bf16"] = bf16;
  }
  static Settings load(AutogradContext* ctx) {
    const auto& data = ctx->saved_data;
    Settings settings;
    settings.kind = static_cast<FeatureKind>(data.at("kind").toInt());
    settings.causal = data.at("causal").toBool();
    settings.chunk = data.at("chunk").toInt();
    settings.block_rows = data.at("block").toInt();
    settings.eps = data.at("eps").toDouble();
    settings.key_eps = data.at("key_eps").toDouble();
    settings.bf16 = data.at("bf16").toBool();
    return settings;
  }
};

// valid: [N, Lk] bool or undefined; w: [m, d] times d^-1/4.
Pass make_pass(const at::Tensor& qs, const at::Tensor& ks, const at::Tensor& v, const at::Tensor& w,
               const at::Tensor& valid, const Settings& settings) {
  const Products products{settings.bf16};
  return {qs,
          ks,
          v,
          with_ones(v),
          valid,
          FeatureMap(settings.kind, Role::query, settings.eps, w, products),
          FeatureMap(settings.kind, Role::key, settings.key_eps, w, products),
          settings.block_rows,
          settings.chunk};
}

// ctx->save_for_backward's list holds, in this order: qs, ks, v, w, valid (undefined: no padding) and
// out; the algorithm's saved tensors (BidirectionalSaved or CausalSaved); the kept query features, then
// the kept key features (their numbers in saved_data). FavorFunction::save() writes them, SavedReader
// reads them back in the same order.
class SavedReader {
 public:
  explicit SavedReader(variable_list saved) : saved_(std::move(saved)) {}

  at::Tensor next() { return saved_.at(next_++); }

  std::vector<at::Tensor> next(int64_t count) {
    std::vector<at::Tensor> tensors(saved_.begin() + next_, saved_.begin() + next_ + count);
    next_ += count;
    return tensors;
  }

  template <class Saved>
  Saved next_saved() {
    Saved saved;
    std::apply([&](auto&... tensors) { ((tensors = next()), ...); }, saved.tensors());
    return saved;
  }

 private:
  variable_list saved_;
  size_t next_ = 0;
};

class FavorFunction : public torch::autograd::Function<FavorFunction> {
 public:
  // qs, ks: [N, L, d]; v: [N, Lk, dv]; w: [m, d] times d^-1/4; valid: [N, Lk] bool, empty for none.
  static at::Tensor forward(AutogradContext* ctx, at::Tensor qs, at::Tensor ks, at::Tensor v,
                            at::Tensor w, at::Tensor valid, int64_t kind_id, bool causal,
                            int64_t chunk, int64_t block_rows, double eps, bool keep_features,
                            bool bf16) {
    at::NoGradGuard no_grad;
    if (valid.numel() == 0) valid = at::Tensor();  // no padding (see prepare())
    const auto kind = static_cast<FeatureKind>(kind_id);
    const int64_t n = qs.size(0), lq = qs.size(1), lk = ks.size(1);
    Settings settings;
    settings.kind = kind;
    settings.causal = causal;
    settings.chunk = causal ? fitted_chunk(chunk, lq) : chunk;
    settings.block_rows = pick_block_rows(block_rows, n, feature_width(kind, w.size(0)), std::max(lq, lk),
                                          settings.chunk, causal);
    settings.eps = eps;
    settings.key_eps = key_epsilon(kind, causal, eps);
    settings.bf16 = bf16;
    settings.store(ctx);
    const Pass pass = make_pass(qs, ks, v, w, valid, settings);
    // Features kept for the backward (no copies): not in inference.
    const bool keep = keep_features && keeps_features(kind) &&
                      (qs.requires_grad() || ks.requires_grad() || v.requires_grad());
    return causal ? save(ctx, w, pass, causal_forward(pass, keep))
                  : save(ctx, w, pass, bidirectional_forward(pass, keep));
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    at::NoGradGuard no_grad;
    const Settings settings = Settings::load(ctx);
    SavedReader reader(ctx->get_saved_variables());
    const at::Tensor qs = reader.next(), ks = reader.next(), v = reader.next(), w = reader.next();
    const at::Tensor valid = reader.next(), out = reader.next();
    const Pass pass = make_pass(qs, ks, v, w, valid, settings);
    const at::Tensor d_out = grads[0].contiguous();  // [N, Lq, dv]
    Gradients d;
    if (settings.causal) {
      const auto saved = reader.next_saved<CausalSaved>();
      d = causal_backward(pass, out, d_out, saved, read_kept(ctx, reader));
    } else {
      const auto saved = reader.next_saved<BidirectionalSaved>();
      d = bidirectional_backward(pass, out, d_out, saved, read_kept(ctx, reader));
    }
    return {d.queries,    d.keys,       d.values,     at::Tensor(), at::Tensor(), at::Tensor(),
            at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }

 private:
  template <class Saved>
  static at::Tensor save(AutogradContext* ctx, const at::Tensor& w, const Pass& pass,
                         ForwardResult<Saved> result) {
    std::vector<at::Tensor> list = {pass.qs, pass.ks, pass.v, w, pass.valid, result.out};
    std::apply([&](auto&... tensors) { (list.push_back(tensors), ...); }, result.saved.tensors());
    ctx->saved_data["kept_queries"] = static_cast<int64_t>(result.kept.queries.size());
    ctx->saved_data["kept_keys"] = static_cast<int64_t>(result.kept.keys.size());
    list.insert(list.end(), result.kept.queries.begin(), result.kept.queries.end());
    list.insert(list.end(), result.kept.keys.begin(), result.kept.keys.end());
    ctx->save_for_backward(list);
    return result.out;
  }

  static KeptFeatures read_kept(AutogradContext* ctx, SavedReader& reader) {
    KeptFeatures kept;
    kept.queries = reader.next(ctx->saved_data["kept_queries"].toInt());
    kept.keys = reader.next(ctx->saved_data["kept_keys"].toInt());
    return kept;
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

at::Tensor head_weights(const at::Tensor& q, const at::Tensor& k, FeatureKind kind,
                        const AttentionOptions& options, const at::Tensor& key_padding_mask, int64_t batch,
                        int64_t head) {
  at::NoGradGuard no_grad;
  Prepared p = prepare(q, k, k.narrow(3, 0, 1), options, key_padding_mask);
  const int64_t row = batch * q.size(1) + head;
  at::Tensor xq = p.qs.narrow(0, row, 1), xk = p.ks.narrow(0, row, 1);
  at::Tensor valid = p.valid.numel() > 0 ? p.valid.narrow(0, row, 1) : at::Tensor();
  const double eps = epsilon_for(kind, options);
  FeatureMap query_map(kind, Role::query, eps, p.w);
  FeatureMap key_map(kind, Role::key, key_epsilon(kind, options.causal, eps), p.w);
  const at::Tensor phi_q = query_map.compute(xq, {}, {}, false).phi[0];  // [Lq, m']
  at::Tensor weights;                                                     // [Lq, Lk]
  if (options.causal) {
    // As the causal forward: key j under the maximum up to it, r_j, and row i's keys rescaled to r_i by
    // exp(r_j - r_i) (above the diagonal possibly inf, and cut off by tril).
    at::Tensor running = no_key_maximum(1, xk.options());
    auto [phi_k, stabilisers] = key_map.causal_key_block(xk, valid, running);  // [1, L, m'], [1, L]
    weights = at::matmul(phi_q, phi_k[0].t());
    if (stabilisers.defined()) weights.mul_((stabilisers - stabilisers[0].unsqueeze(1)).exp_());
    weights.tril_();
  } else {
    // The whole sequence's key stabiliser at once (the forward raises it block by block).
    at::Tensor stabiliser;  // [1, 1, 1]
    if (kind == FeatureKind::trig) stabiliser = trig_key_stabiliser(xk, valid);
    if (kind == FeatureKind::softmax) stabiliser = key_map.key_logits(xk, valid, {}).amax({1, 2}, true);
    weights = at::matmul(phi_q, key_map.compute(xk, valid, stabiliser, false).phi[0].t());
  }
  at::Tensor den = weights.sum(-1, true);
  return weights.div_(den.masked_fill_(den == 0, 1));
}

}  // namespace performer::core::favor
