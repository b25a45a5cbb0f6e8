#include "core/multihead_attention.h"

#include <torch/csrc/autograd/custom_function.h>
#include <torch/nn/init.h>

#include "core/errors.h"

namespace performer::core {

namespace {

// cos and sin [L, dh/2] of position x frequency 10000^(-2i/dh), in the type of the rotated tensor.
std::pair<at::Tensor, at::Tensor> rotary_tables(int64_t l, int64_t dh, const at::Tensor& like) {
  const int64_t half = dh / 2;
  auto f32 = like.options().dtype(at::kFloat);
  at::Tensor inv_freq = at::pow(10000.0, at::arange(half, f32) * (-1.0 / half));  // [dh/2]
  at::Tensor angles = at::outer(at::arange(l, f32), inv_freq);                   // [L, dh/2]
  return {angles.cos().to(like.scalar_type()), angles.sin().to(like.scalar_type())};
}

// o = R x (inverse: R^T x) for x, o [..., L, dh], written into o (a view): the halves x1, x2 give
// o1 = x1 cos - x2 sin, o2 = x1 sin + x2 cos; R^T flips the sign of sin.
void rotate_into(at::Tensor o, const at::Tensor& x, const std::pair<at::Tensor, at::Tensor>& tables,
                 bool inverse) {
  const auto& [cos, sin] = tables;
  const int64_t half = x.size(-1) / 2;
  at::Tensor x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
  at::Tensor o1 = o.narrow(-1, 0, half), o2 = o.narrow(-1, half, half);
  at::mul_out(o1, x1, cos).addcmul_(x2, sin, inverse ? 1 : -1);
  at::mul_out(o2, x2, cos).addcmul_(x1, sin, inverse ? -1 : 1);
}

// qkv [B, L, 3E] (the input projection) -> q, k, v [B, H, L, E/H], each contiguous, q and k rotated
// when rotary. One pass writes each; the backward writes the three gradients straight into one
// [B, L, 3E] tensor. (Through view, permute and unbind, the backward stacked the three gradients and
// then copied the stack into qkv's layout: two passes instead of one.)
class SplitHeads : public torch::autograd::Function<SplitHeads> {
 public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, at::Tensor qkv,
                                                int64_t heads, bool rotary) {
    at::NoGradGuard no_grad;
    const int64_t b = qkv.size(0), l = qkv.size(1), dh = qkv.size(2) / (3 * heads);
    ctx->saved_data["heads"] = heads;
    ctx->saved_data["rotary"] = rotary;
    const auto parts = in_layout(qkv, heads);  // 3 x [B, H, L, dh] views
    torch::autograd::variable_list out;
    const auto tables = rotary ? rotary_tables(l, dh, qkv) : std::pair<at::Tensor, at::Tensor>{};
    for (int i = 0; i < 3; ++i) {
      at::Tensor o = at::empty({b, heads, l, dh}, qkv.options());
      if (rotary && i < 2) {
        rotate_into(o, parts[i], tables, false);
      } else {
        o.copy_(parts[i]);
      }
      out.push_back(o);
    }
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    at::NoGradGuard no_grad;
    const int64_t heads = ctx->saved_data["heads"].toInt();
    const bool rotary = ctx->saved_data["rotary"].toBool();
    at::Tensor like;
    for (const auto& g : grads) {
      if (g.defined()) like = g;
    }
    const int64_t b = like.size(0), l = like.size(2), dh = like.size(3);
    at::Tensor dqkv = at::empty({b, l, 3 * heads * dh}, like.options());
    const auto parts = in_layout(dqkv, heads);
    const auto tables = rotary ? rotary_tables(l, dh, like) : std::pair<at::Tensor, at::Tensor>{};
    for (int i = 0; i < 3; ++i) {
      if (!grads[i].defined()) {
        parts[i].zero_();  // an output that reached no loss (dummy attention's q and k)
      } else if (rotary && i < 2) {
        rotate_into(parts[i], grads[i], tables, true);
      } else {
        parts[i].copy_(grads[i]);
      }
    }
    return {dqkv, at::Tensor(), at::Tensor()};
  }

 private:
  // [B, L, 3E] as q, k, v [B, H, L, dh] views.
  static std::vector<at::Tensor> in_layout(const at::Tensor& qkv, int64_t heads) {
    const int64_t b = qkv.size(0), l = qkv.size(1), dh = qkv.size(2) / (3 * heads);
    return qkv.view({b, l, 3, heads, dh}).permute({2, 0, 3, 1, 4}).unbind(0);
  }
};

}  // namespace

at::Tensor apply_rotary(const at::Tensor& x) {
  const int64_t l = x.size(2), dh = x.size(3), half = dh / 2;
  require_config(dh % 2 == 0, "rotary positions need an even head dimension, got " + std::to_string(dh));
  const auto [cos, sin] = rotary_tables(l, dh, x);
  at::Tensor x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
  return at::cat({x1 * cos - x2 * sin, x1 * sin + x2 * cos}, -1);
}

at::Tensor dense(const torch::nn::Linear& layer, const at::Tensor& x, at::ScalarType dtype) {
  if (dtype == layer->weight.scalar_type()) return at::linear(x, layer->weight, layer->bias);  // forward()
  const at::Tensor bias = layer->bias.defined() ? layer->bias.to(dtype) : at::Tensor();
  return at::linear(x.to(dtype), layer->weight.to(dtype), bias);
}

MultiheadAttentionImpl::MultiheadAttentionImpl(const MultiheadAttentionOptions& options_)
    : options(options_) {
  reset();
}

void check_projection(AttentionKind kind, ProjectionKind projection) {
  // W = I turns the softmax estimators into a different, biased kernel (and ignores the feature
  // count): only the ReLU kernel has an identity variant.
  require_config(projection != ProjectionKind::identity || !is_favor(kind) || kind == AttentionKind::favor_relu,
                 "the identity projection is a variant of the ReLU kernel only: " + to_string(kind) +
                     " needs random features (orthogonal or iid)");
}

void MultiheadAttentionImpl::reset() {
  const int64_t e = options.embed_dim(), h = options.heads();
  require_config(e > 0 && h > 0, "embed_dim and heads must be positive");
  require_config(e % h == 0, "embed_dim " + std::to_string(e) + " is not divisible by heads " +
                                 std::to_string(h));
  require_config(options.features() > 0, "features must be positive");
  require_config(options.redraw_interval() >= 0, "redraw_interval must be >= 0");
  check_projection(options.kind(), options.projection());
  in_proj = register_module("in_proj",
                            torch::nn::Linear(torch::nn::LinearOptions(e, 3 * e).bias(options.bias())));
  out_proj = register_module("out_proj",
                             torch::nn::Linear(torch::nn::LinearOptions(e, e).bias(options.bias())));
  ProjectionOptions p;
  p.features = options.projection() == ProjectionKind::identity ? e / h : options.features();
  p.dim = e / h;
  p.kind = options.projection();
  p.seed = options.seed();
  projection = register_buffer("projection", draw_projection(p, 0));
  training_calls = register_buffer("training_calls", torch::zeros({}, torch::kLong));
  draw_count = register_buffer("draw_count", torch::ones({}, torch::kLong));
}

AttentionOptions MultiheadAttentionImpl::attention_options() const {
  AttentionOptions a;
  a.kind = options.kind();
  a.causal = options.causal();
  a.projection = projection;
  a.causal_chunk_size = options.causal_chunk_size();
  a.keep_features = options.keep_features();
  a.bf16_products = options.dense_dtype() == at::kBFloat16;
  return a;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> MultiheadAttentionImpl::project(const at::Tensor& x) {
  const int64_t h = options.heads();
  const int64_t dh = options.embed_dim() / h;
  require_config(!options.rotary() || dh % 2 == 0,
                 "rotary positions need an even head dimension, got " + std::to_string(dh));
  auto qkv = SplitHeads::apply(dense(in_proj, x, options.dense_dtype()), h, options.rotary());
  return {qkv[0], qkv[1], qkv[2]};
}

void MultiheadAttentionImpl::set_kind(AttentionKind kind) {
  check_projection(kind, options.projection());
  options.kind(kind);
}

int64_t MultiheadAttentionImpl::draws() const { return draw_count.item<int64_t>(); }

void MultiheadAttentionImpl::redraw() {
  ProjectionOptions p;
  p.features = projection.size(0);
  p.dim = projection.size(1);
  p.kind = options.projection();
  p.seed = options.seed();
  torch::NoGradGuard no_grad;
  projection.copy_(draw_projection(p, static_cast<uint64_t>(draws())));
  draw_count.add_(1);
}

at::Tensor MultiheadAttentionImpl::attend(const at::Tensor& q, const at::Tensor& k,
                                          const at::Tensor& v,
                                          const at::Tensor& key_padding_mask) const {
  return attention(q, k, v, attention_options(), key_padding_mask);
}

at::Tensor MultiheadAttentionImpl::forward(const at::Tensor& x, const at::Tensor& key_padding_mask) {
  require_config(x.dim() == 3 && x.size(2) == options.embed_dim(),
                 "attention input must be [batch, length, " + std::to_string(options.embed_dim()) +
                     "]");
  if (is_training()) {
    torch::NoGradGuard no_grad;
    // A new projection at the first call of each period of `interval` calls: the trainer sets the
    // interval to steps x accumulation, so every micro-batch of one optimiser step sees the same
    // projection (a redraw at a period's last call would split a step between two projections).
    training_calls.add_(1);
    const int64_t interval = options.redraw_interval(), calls = training_calls.item<int64_t>();
    if (is_favor(options.kind()) && interval > 0 && calls > 1 && (calls - 1) % interval == 0) redraw();
  }
  const int64_t b = x.size(0), l = x.size(1);
  auto [q, k, v] = project(x);
  at::Tensor o = attend(q, k, v, key_padding_mask);  // [B, H, L, dh]
  return dense(out_proj, o.transpose(1, 2).reshape({b, l, options.embed_dim()}), options.dense_dtype());
}

}  // namespace performer::core
