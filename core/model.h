#pragma once
// ProteinLM: a pre-LayerNorm transformer over protein tokens with any attention kind, rotary (or
// learned) positions and an output head tied to the token embedding; masked (mlm) or causal (ar).
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <string>

#include "core/attention.h"
#include "core/multihead_attention.h"
#include "core/names.h"
#include "core/settings.h"
#include "core/projection.h"

namespace performer::core {

// Every setting of a model, stored as JSON in each checkpoint. Defaults are those of the `small` preset.
struct ModelConfig {
  std::string preset = "small";            // name of the preset it started from
  Objective objective = Objective::mlm;    // mlm (bidirectional, masked) or ar (causal, next token)
  int64_t layers = 4;                      // transformer blocks
  int64_t d_model = 256;                   // width
  int64_t heads = 4;                       // attention heads (d_model / heads per head)
  int64_t d_ff = 1024;                     // feed-forward width
  Activation activation = Activation::gelu;  // feed-forward nonlinearity
  int64_t max_length = 1024;               // training length in tokens (learned positions: the limit)
  Positions positions = Positions::rotary;  // how positions enter
  AttentionKind attention = AttentionKind::exact;  // attention in every block
  int64_t features = 256;                  // m, random features (favor kinds)
  ProjectionKind projection = ProjectionKind::orthogonal;  // how feature projections are drawn
  int64_t redraw_interval = 1000;          // training steps between projection redraws; 0: never
  int64_t causal_chunk_size = kDefaultCausalChunk;  // C of the causal prefix sums
  double dropout = 0.0;                    // on attention and feed-forward outputs
  // Products of the blocks' dense layers (q/k/v, attention output, feed-forward) and of FAVOR's
  // features: fp32, or bf16 for mixed precision (weights, residual stream, LayerNorms, feature maps
  // and sums, head and loss stay fp32).
  Precision precision = Precision::fp32;
  uint64_t seed = 0;                       // parameter initialisation and projection draws
  int64_t vocab_size = 30;                 // tokens (set from the vocabulary)
  std::string vocabulary = "performer-protein-v1";  // vocabulary version the model reads

  bool causal() const { return objective == Objective::ar; }
  at::ScalarType dense_dtype() const { return precision == Precision::bf16 ? at::kBFloat16 : at::kFloat; }
  void validate() const;                   // throws ConfigError with the offending setting
  std::string to_json() const;
  static ModelConfig from_json(const std::string& text);  // validates
};

// tiny (tests, CI), small (2-core CPU work, ~3.2M parameters), paper (36 layers, d 512, 8 heads,
// d_ff 1024, length 1024: the Performer paper's protein model). ConfigError for other names.
ModelConfig preset_config(const std::string& name);

struct LossResult {
  at::Tensor loss;       // mean cross-entropy over labelled positions (scalar, differentiable)
  int64_t targets = 0;   // labelled positions
  int64_t correct = 0;   // argmax == label
};

class TransformerBlockImpl : public torch::nn::Cloneable<TransformerBlockImpl> {
 public:
  TransformerBlockImpl(const ModelConfig& config, int64_t index);
  void reset() override;
  at::Tensor forward(const at::Tensor& x, const at::Tensor& padding);  // x [B, L, d] -> [B, L, d]
  // forward() in its two residual steps: attend (needs every row of the sequence) and feed_forward
  // (row by row, so it may run on a subset of rows [..., d]).
  at::Tensor attend(const at::Tensor& x, const at::Tensor& padding);
  at::Tensor feed_forward(const at::Tensor& x);

  ModelConfig config;
  int64_t index;
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  MultiheadAttention attention{nullptr};
  torch::nn::Linear ff_in{nullptr}, ff_out{nullptr};
};
TORCH_MODULE(TransformerBlock);

class ProteinLMImpl : public torch::nn::Cloneable<ProteinLMImpl> {
 public:
  explicit ProteinLMImpl(const ModelConfig& config);
  void reset() override;

  // tokens [B, L] int64; padding [B, L] bool (true on padding) or undefined. Returns logits [B, L, V].
  at::Tensor forward(const at::Tensor& tokens, const at::Tensor& padding = {});
  // Token embeddings plus learned positions, if any: [B, L, d] (the input of the first block).
  at::Tensor embed(const at::Tensor& tokens);
  // Hidden states after the final LayerNorm [B, L, d]; layer_outputs, when given, receives the input
  // embeddings followed by each block's output.
  at::Tensor encode(const at::Tensor& tokens, const at::Tensor& padding = {},
                    std::vector<at::Tensor>* layer_outputs = nullptr);

  // language_model_loss(forward(tokens, padding), targets), computed so that rows without a label
  // skip what only they need: when at most half the rows are labelled (mlm), the last block's
  // feed-forward, the final LayerNorm and the output head run on the labelled rows alone. Same loss,
  // gradients and counts, to float rounding.
  LossResult loss(const at::Tensor& tokens, const at::Tensor& padding, const at::Tensor& targets);

  void set_attention(AttentionKind kind);  // every block; parameters unchanged
  // favor kinds: keep the forward's features for the backward (default), or recompute them (less
  // memory, more time). A run-time choice, not part of the config or the checkpoint.
  void set_keep_features(bool keep);
  void set_precision(Precision precision);  // ModelConfig::precision, every block
  int64_t parameter_count() const;

  ModelConfig config;
  torch::nn::Embedding embedding{nullptr};  // [V, d], also the output projection (tied)
  torch::nn::Embedding position{nullptr};   // learned positions only
  torch::nn::ModuleList blocks{nullptr};
  torch::nn::LayerNorm final_norm{nullptr};
  at::Tensor output_bias;                   // [V]
};
TORCH_MODULE(ProteinLM);

// Cross-entropy of logits [B, L, V] against targets [B, L] (kIgnoreIndex: no label).
LossResult language_model_loss(const at::Tensor& logits, const at::Tensor& targets);

}  // namespace performer::core
