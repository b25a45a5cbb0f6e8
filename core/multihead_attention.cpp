#include "core/multihead_attention.h"

#include <torch/nn/init.h>

#include "core/errors.h"

namespace performer::core {

at::Tensor apply_rotary(const at::Tensor& x) {
  const int64_t l = x.size(2), dh = x.size(3), half = dh / 2;
  require_config(dh % 2 == 0, "rotary positions need an even head dimension, got " + std::to_string(dh));
  auto f32 = x.options().dtype(at::kFloat);
  at::Tensor inv_freq = at::pow(10000.0, at::arange(half, f32) * (-1.0 / half));  // [dh/2]
  at::Tensor angles = at::outer(at::arange(l, f32), inv_freq);                   // [L, dh/2]
  at::Tensor cos = angles.cos().to(x.scalar_type()), sin = angles.sin().to(x.scalar_type());
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

void MultiheadAttentionImpl::reset() {
  const int64_t e = options.embed_dim(), h = options.heads();
  require_config(e > 0 && h > 0, "embed_dim and heads must be positive");
  require_config(e % h == 0, "embed_dim " + std::to_string(e) + " is not divisible by heads " +
                                 std::to_string(h));
  require_config(options.features() > 0, "features must be positive");
  require_config(options.redraw_interval() >= 0, "redraw_interval must be >= 0");
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
  const int64_t b = x.size(0), l = x.size(1), h = options.heads(), dh = options.embed_dim() / h;
  // unbind, not qkv[i]: the backward of three selects zero-fills and adds up three copies of the whole
  // [3, B, H, L, dh] gradient; unbind's backward stacks the three gradients once.
  auto qkv = dense(in_proj, x, options.dense_dtype()).view({b, l, 3, h, dh}).permute({2, 0, 3, 1, 4}).unbind(0);  // 3 x [B, H, L, dh]
  if (!options.rotary()) return {qkv[0], qkv[1], qkv[2]};
  return {apply_rotary(qkv[0]), apply_rotary(qkv[1]), qkv[2]};
}

void MultiheadAttentionImpl::set_kind(AttentionKind kind) { options.kind(kind); }

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
    training_calls.add_(1);
    const int64_t interval = options.redraw_interval();
    if (is_favor(options.kind()) && interval > 0 && training_calls.item<int64_t>() % interval == 0) {
      redraw();
    }
  }
  const int64_t b = x.size(0), l = x.size(1);
  auto [q, k, v] = project(x);
  at::Tensor o = attend(q, k, v, key_padding_mask);  // [B, H, L, dh]
  return dense(out_proj, o.transpose(1, 2).reshape({b, l, options.embed_dim()}), options.dense_dtype());
}

}  // namespace performer::core
