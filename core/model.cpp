#include "core/model.h"

#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/dropout.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/init.h>

#include <cmath>
#include <type_traits>

#include "core/errors.h"
#include "core/tokens.h"
#include "io/json.h"

namespace performer::core {

void ModelConfig::validate() const {
  require_config(layers > 0 && d_model > 0 && heads > 0 && d_ff > 0, "layers, d_model, heads and d_ff must be positive");
  require_config(d_model % heads == 0, "d_model " + std::to_string(d_model) + " is not divisible by heads " +
                                           std::to_string(heads));
  require_config(positions != Positions::rotary || (d_model / heads) % 2 == 0, "rotary positions need an even head dimension");
  require_config(max_length >= 3, "max_length must be at least 3");
  require_config(features > 0, "features must be positive");
  require_config(redraw_interval >= 0, "redraw_interval must be >= 0");
  require_config(causal_chunk_size > 0, "causal_chunk_size must be positive");
  require_config(dropout >= 0 && dropout < 1, "dropout must be in [0, 1)");
  require_config(vocab_size > 0, "vocab_size must be positive");
}

namespace {

// Every field of the config with its JSON name, listed once: to_json and from_json both walk it.
template <typename Config, typename Visit>
void visit_fields(Config& c, Visit&& visit) {
  visit("preset", c.preset);
  visit("objective", c.objective);
  visit("layers", c.layers);
  visit("d_model", c.d_model);
  visit("heads", c.heads);
  visit("d_ff", c.d_ff);
  visit("activation", c.activation);  // absent in older checkpoints: gelu
  visit("max_length", c.max_length);
  visit("positions", c.positions);
  visit("attention", c.attention);
  visit("features", c.features);
  visit("projection", c.projection);
  visit("redraw_interval", c.redraw_interval);
  visit("causal_chunk_size", c.causal_chunk_size);
  visit("dropout", c.dropout);
  visit("precision", c.precision);    // absent in older checkpoints: fp32
  visit("seed", c.seed);
  visit("vocab_size", c.vocab_size);
  visit("vocabulary", c.vocabulary);
}

template <typename T>
io::Json field_to_json(const T& value) {
  if constexpr (std::is_enum_v<T>) {
    return to_string(value);
  } else {
    return value;
  }
}

template <typename T>
void field_from_json(const io::Json& json, const char* name, T& value) {
  const auto it = json.find(name);
  if (it == json.end()) return;  // absent: the default (older checkpoints)
  const auto wrong = [&](const char* expected) {
    throw ConfigError(std::string("model config: '") + name + "' must be " + expected + ", got " + io::to_line(*it));
  };
  if constexpr (std::is_same_v<T, std::string>) {
    if (!it->is_string()) wrong("a string");
    value = it->template get<std::string>();
  } else if constexpr (Named<T>) {
    if (!it->is_string()) wrong("a string");
    value = parse_name<T>(it->template get<std::string>(), std::string("model config '") + name + "'");
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!it->is_number()) wrong("a number");
    value = it->template get<T>();
  } else {
    // Integers: older checkpoints wrote every number as a double ("4.0" style is still an integer).
    if (!it->is_number()) wrong("an integer");
    const double number = it->template get<double>();
    if (number != std::floor(number)) wrong("an integer");
    value = it->is_number_integer() ? it->template get<T>() : static_cast<T>(number);
  }
}

}  // namespace

std::string ModelConfig::to_json() const {
  io::Json json = io::Json::object();
  visit_fields(*this, [&](const char* name, const auto& value) { json[name] = field_to_json(value); });
  return io::to_text(json);
}

ModelConfig ModelConfig::from_json(const std::string& text) {
  io::Json json;
  try {
    json = io::parse_json(text, "model config");
  } catch (const InputError& e) {
    throw ConfigError(e.what());
  }
  if (!json.is_object()) throw ConfigError("model config: not a JSON object");
  ModelConfig c;
  visit_fields(c, [&](const char* name, auto& value) { field_from_json(json, name, value); });
  c.validate();
  return c;
}

ModelConfig preset_config(const std::string& name) {
  ModelConfig c;
  c.preset = name;
  if (name == "tiny") {
    c.layers = 2;
    c.d_model = 64;
    c.heads = 4;
    c.d_ff = 128;
    c.max_length = 128;
    c.features = 32;
  } else if (name == "small") {
    // the defaults above
  } else if (name == "paper") {
    c.layers = 36;
    c.d_model = 512;
    c.heads = 8;
    c.d_ff = 1024;
    c.max_length = 1024;
    c.features = 256;
  } else {
    throw ConfigError("unknown preset '" + name + "' (tiny, small or paper)");
  }
  return c;
}

TransformerBlockImpl::TransformerBlockImpl(const ModelConfig& config_, int64_t index_)
    : config(config_), index(index_) {
  reset();
}

void TransformerBlockImpl::reset() {
  const int64_t d = config.d_model;
  norm1 = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
  norm2 = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
  attention = register_module(
      "attention", MultiheadAttention(MultiheadAttentionOptions(d, config.heads)
                                          .kind(config.attention)
                                          .causal(config.causal())
                                          .features(config.features)
                                          .projection(config.projection)
                                          .redraw_interval(config.redraw_interval)
                                          .seed(config.seed * 1000003ULL + static_cast<uint64_t>(index))
                                          .causal_chunk_size(config.causal_chunk_size)
                                          .rotary(config.positions == Positions::rotary)
                                          .dense_dtype(config.dense_dtype())));
  ff_in = register_module("ff_in", torch::nn::Linear(d, config.d_ff));
  ff_out = register_module("ff_out", torch::nn::Linear(config.d_ff, d));
}

at::Tensor TransformerBlockImpl::attend(const at::Tensor& x, const at::Tensor& padding) {
  namespace F = torch::nn::functional;
  const auto drop = F::DropoutFuncOptions().p(config.dropout).training(is_training());
  return x + F::dropout(attention->forward(norm1->forward(x), padding), drop);
}

at::Tensor TransformerBlockImpl::feed_forward(const at::Tensor& x) {
  namespace F = torch::nn::functional;
  const auto drop = F::DropoutFuncOptions().p(config.dropout).training(is_training());
  at::Tensor h = dense(ff_in, norm2->forward(x), config.dense_dtype());
  // relu2: the squared ReLU of Primer (So et al. 2021), cheaper than gelu on a CPU.
  h = config.activation == Activation::relu2 ? at::relu(h).square() : F::gelu(h);
  return x + F::dropout(dense(ff_out, h, config.dense_dtype()), drop);  // bf16 products: promoted to fp32
}

at::Tensor TransformerBlockImpl::forward(const at::Tensor& x, const at::Tensor& padding) {
  return feed_forward(attend(x, padding));
}

ProteinLMImpl::ProteinLMImpl(const ModelConfig& config_) : config(config_) {
  config.validate();
  reset();
}

void ProteinLMImpl::reset() {
  torch::manual_seed(config.seed);  // parameters are a function of the config
  embedding = register_module("embedding", torch::nn::Embedding(config.vocab_size, config.d_model));
  torch::nn::init::normal_(embedding->weight, 0.0, 0.02);
  if (config.positions == Positions::learned) {
    position = register_module("position", torch::nn::Embedding(config.max_length, config.d_model));
    torch::nn::init::normal_(position->weight, 0.0, 0.02);
  }
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.layers; ++i) blocks->push_back(TransformerBlock(config, i));
  final_norm = register_module("final_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.d_model})));
  output_bias = register_parameter("output_bias", torch::zeros({config.vocab_size}));
}

at::Tensor ProteinLMImpl::embed(const at::Tensor& tokens) {
  require_config(tokens.dim() == 2, "tokens must be [batch, length]");
  at::Tensor h = embedding->forward(tokens);  // [B, L, d]
  if (!position) return h;
  const int64_t l = tokens.size(1);
  require_config(l <= config.max_length, "sequence of " + std::to_string(l) +
                                             " tokens is longer than this model's learned positions (" +
                                             std::to_string(config.max_length) + ")");
  return h + position->forward(torch::arange(l, tokens.options().dtype(torch::kLong)));
}

at::Tensor ProteinLMImpl::encode(const at::Tensor& tokens, const at::Tensor& padding,
                                 std::vector<at::Tensor>* layer_outputs) {
  at::Tensor h = embed(tokens);
  if (layer_outputs) layer_outputs->push_back(h);
  for (const auto& block : *blocks) {
    h = block->as<TransformerBlock>()->forward(h, padding);
    if (layer_outputs) layer_outputs->push_back(h);
  }
  return final_norm->forward(h);
}

at::Tensor ProteinLMImpl::forward(const at::Tensor& tokens, const at::Tensor& padding) {
  return at::linear(encode(tokens, padding), embedding->weight, output_bias);  // [B, L, V]
}

LossResult ProteinLMImpl::loss(const at::Tensor& tokens, const at::Tensor& padding, const at::Tensor& targets) {
  const at::Tensor flat_targets = targets.reshape({-1});
  const at::Tensor rows = (flat_targets != kIgnoreIndex).nonzero().squeeze(1);  // labelled rows of [B * L]
  if (2 * rows.numel() > flat_targets.numel()) return language_model_loss(forward(tokens, padding), targets);
  // Row i of the output depends on the other rows only through attention: below the last block's
  // attention, every row is needed; above it, only the labelled ones.
  at::Tensor h = embed(tokens);
  const size_t last = blocks->size() - 1;
  for (size_t i = 0; i < last; ++i) h = blocks[i]->as<TransformerBlock>()->forward(h, padding);
  auto* block = blocks[last]->as<TransformerBlock>();
  h = block->attend(h, padding);
  h = block->feed_forward(h.reshape({-1, h.size(-1)}).index_select(0, rows));  // [T, d]
  at::Tensor logits = at::linear(final_norm->forward(h), embedding->weight, output_bias);  // [T, V]
  return language_model_loss(logits, flat_targets.index_select(0, rows));
}

void ProteinLMImpl::set_attention(AttentionKind kind) {
  config.attention = kind;
  for (const auto& block : *blocks) block->as<TransformerBlock>()->attention->set_kind(kind);
}

void ProteinLMImpl::set_keep_features(bool keep) {
  for (const auto& block : *blocks) block->as<TransformerBlock>()->attention->set_keep_features(keep);
}

void ProteinLMImpl::set_precision(Precision precision) {
  ModelConfig c = config;
  c.precision = precision;
  c.validate();
  config = c;
  for (const auto& block : *blocks) {
    auto* b = block->as<TransformerBlock>();
    b->config.precision = precision;
    b->attention->set_dense_dtype(config.dense_dtype());
  }
}

int64_t ProteinLMImpl::parameter_count() const {
  int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

LossResult language_model_loss(const at::Tensor& logits, const at::Tensor& targets) {
  namespace F = torch::nn::functional;
  const int64_t v = logits.size(-1);
  LossResult r;
  at::Tensor flat_logits = logits.reshape({-1, v}), flat_targets = targets.reshape({-1});
  r.loss = F::cross_entropy(flat_logits.to(at::kFloat), flat_targets,
                            F::CrossEntropyFuncOptions().ignore_index(kIgnoreIndex));
  torch::NoGradGuard no_grad;
  const at::Tensor labelled = flat_targets != kIgnoreIndex;
  r.targets = labelled.sum().item<int64_t>();
  r.correct = ((flat_logits.argmax(-1) == flat_targets) & labelled).sum().item<int64_t>();
  return r;
}

}  // namespace performer::core
