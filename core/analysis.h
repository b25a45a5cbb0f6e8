#pragma once
// What a trained ProteinLM tells about sequences: likelihoods (exact for autoregressive models,
// pseudo-likelihood for masked ones), variant effects, embeddings, attention maps and contact scores,
// and the amino-acid similarity matrix derived from attention. Token rows are framed: <cls> residues <eos>.
#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "core/model.h"
#include "core/tokens.h"

namespace performer::core {

struct SequenceScore {
  int64_t length = 0;           // residues
  double log_likelihood = 0;    // sum over residues of log p (natural log)
  double mean_log_likelihood = 0;  // per residue
  double perplexity = 0;        // exp(-mean)
};

// Autoregressive models: log p(x_i | x_<i) for every residue, exactly. residues: token ids.
SequenceScore score_autoregressive(ProteinLM& model, const std::vector<int64_t>& residues);
// Masked models: pseudo-log-likelihood, sum over residues of log p(x_i | x with i masked); every
// position is masked once, `batch` masked copies per forward pass. after_batch(positions done) runs
// after each pass: a long protein takes L / batch passes, and a program can show how far it is.
SequenceScore score_pseudo_likelihood(ProteinLM& model, const std::vector<int64_t>& residues,
                                      int64_t batch = 32, const std::function<void(int64_t)>& after_batch = {});

struct Substitution {
  int64_t index = 0;       // 0-based residue index
  int64_t wild_type = 0;   // token id
  int64_t mutant = 0;      // token id
};

// Masked models: sum of log p(mt) - log p(wt) at the mutated positions, all masked together.
double masked_marginal(ProteinLM& model, const std::vector<int64_t>& residues,
                       const std::vector<Substitution>& mutations);
// Masked models: the same from one pass over the unmasked wild type.
double wildtype_marginal(ProteinLM& model, const std::vector<int64_t>& residues,
                         const std::vector<Substitution>& mutations);
// Autoregressive models: log p(mutant) - log p(wild type).
double log_likelihood_ratio(ProteinLM& model, const std::vector<int64_t>& residues,
                            const std::vector<Substitution>& mutations);

// Hidden states of a framed row [L] for the requested layers (0 = embeddings, i = after block i,
// -1 = final normalised output): [layers, L, d].
at::Tensor hidden_states(ProteinLM& model, const std::vector<int64_t>& tokens, const std::vector<int64_t>& layers);

// The L x L attention of every layer and head for one framed row: [layers, heads, L, L].
at::Tensor attention_maps(ProteinLM& model, const std::vector<int64_t>& tokens);
// Memory attention_maps and a caller's copy of them take for a row of `tokens` tokens, in bytes: the
// maps twice plus one head's working matrices (an estimate for refusing what cannot fit).
int64_t attention_maps_bytes(const ModelConfig& config, int64_t tokens);

// Contact scores from attention maps [layers, heads, L, L]: each map symmetrised, corrected by the
// average product (APC), then averaged over layers and heads: [L, L].
at::Tensor contact_scores(const at::Tensor& maps);

// Attention mass between residue types, without forming any L x L matrix: with one-hot residue types
// as values, attention(Q, K, onehot) is the mass each query gives to each type. Accumulates into
// mass [types, types] (query type, key type) and query_counts/key_counts [types], summed over layers
// and heads. residue_types: for each token, its type index in [0, types) or -1 (specials).
void accumulate_type_attention(ProteinLM& model, const std::vector<int64_t>& tokens,
                               const std::vector<int64_t>& residue_types, int64_t types, at::Tensor& mass,
                               at::Tensor& key_counts);

// From accumulated mass to a symmetric similarity matrix: log2 of (the share of attention a type
// gives to another) over (that type's share of keys), symmetrised. [types, types].
at::Tensor similarity_from_mass(const at::Tensor& mass, const at::Tensor& key_counts);

// Pearson and Spearman correlation of the off-diagonal entries of two square matrices.
std::pair<double, double> offdiagonal_correlations(const at::Tensor& a, const at::Tensor& b);

}  // namespace performer::core
