#pragma once
// The named settings of a model (stored in its config), apart from the attention and projection
// kinds: light enough for bio/ and tools/ to use without the model's headers.
#include "core/names.h"

namespace performer::core {

enum class Objective {
  mlm,  // masked language model: bidirectional attention, 15% of residues predicted
  ar,   // autoregressive: causal attention, every next token predicted
};
constexpr NameList<Objective, 2> names(Objective) { return {{{Objective::mlm, "mlm"}, {Objective::ar, "ar"}}}; }

enum class Activation {
  gelu,   // GELU (the presets')
  relu2,  // squared ReLU max(x, 0)^2 (Primer, So et al. 2021)
};
constexpr NameList<Activation, 2> names(Activation) { return {{{Activation::gelu, "gelu"}, {Activation::relu2, "relu2"}}}; }

enum class Positions {
  rotary,   // rotary embeddings of q and k: no length limit
  learned,  // learned absolute embeddings, at most max_length positions
};
constexpr NameList<Positions, 2> names(Positions) {
  return {{{Positions::rotary, "rotary"}, {Positions::learned, "learned"}}};
}

enum class Precision {
  fp32,  // everything in float32
  bf16,  // mixed: the dense layers' and FAVOR's products with bfloat16 factors
};
constexpr NameList<Precision, 2> names(Precision) { return {{{Precision::fp32, "fp32"}, {Precision::bf16, "bf16"}}}; }

}  // namespace performer::core
