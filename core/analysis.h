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

// The same scores for many sequences, several to a forward pass (rows padded on the right to the
// longest in the pass; padding changes no score beyond float rounding). Short proteins no longer pay a
// pass each: a proteome scores several times faster. tokens_per_pass bounds rows x padded length;
// after_sequence(i) runs when sequence i is done (in any order).
std::vector<SequenceScore> score_autoregressive_batch(ProteinLM& model,
                                                      const std::vector<std::vector<int64_t>>& sequences,
                                                      int64_t tokens_per_pass = 16384,
                                                      const std::function<void(size_t)>& after_sequence = {});
// Pseudo-likelihoods: the masked copies of all the sequences (one per residue), up to rows_per_pass
// copies of as many sequences as fit in one pass. after_rows(residues done) after each pass.
std::vector<SequenceScore> score_pseudo_likelihood_batch(ProteinLM& model,
                                                         const std::vector<std::vector<int64_t>>& sequences,
                                                         int64_t rows_per_pass = 32,
                                                         const std::function<void(int64_t)>& after_rows = {});

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

// Every single substitution of one sequence at once (a deep-mutational scan): [L, T] scores, entry
// (i, t) for residue i replaced by tokens[t]; the wild type's own entry is 0.
// Masked models, wild-type marginal: log p(t) - log p(wt) at i from one pass over the unmasked sequence.
at::Tensor wildtype_marginal_scan(ProteinLM& model, const std::vector<int64_t>& residues,
                                  const std::vector<int64_t>& tokens);
// Masked models, masked marginal: the same with position i masked (one masked copy per position,
// `batch` copies per forward pass; after_batch(positions done) after each).
at::Tensor masked_marginal_scan(ProteinLM& model, const std::vector<int64_t>& residues,
                                const std::vector<int64_t>& tokens, int64_t batch = 32,
                                const std::function<void(int64_t)>& after_batch = {});
// Autoregressive models: log p(mutant) - log p(wild type) of every single mutant, `batch` mutant
// sequences per forward pass (a mutation at i changes every prediction after it, so each mutant is a
// pass of its own; the wild type's predictions before i are shared). after_batch(mutants done).
at::Tensor log_likelihood_ratio_scan(ProteinLM& model, const std::vector<int64_t>& residues,
                                     const std::vector<int64_t>& tokens, int64_t batch = 32,
                                     const std::function<void(int64_t)>& after_batch = {});

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

// Which attention accumulate_type_attention counts. With the defaults every weight counts and no L x L
// matrix is formed (one-hot residue types as the values). Leaving out near pairs or small weights needs
// each weight: each head's L x L matrix is then formed, one head at a time (InputError above 1 GiB).
struct TypeAttentionOptions {
  int64_t exclude_near = -1;  // leave out query-key pairs with |i - j| <= exclude_near (-1: none)
  double min_weight = 0;      // count only weights >= min_weight (0: all; Vig et al. use 0.1)
};

// Attention mass between residue types: with one-hot residue types as values, attention(Q, K, onehot)
// is the mass each query gives to each type. Accumulates into mass [layers, heads, types, types]
// (query type, key type) per head, and key_counts [types] (residues of each type). residue_types: for
// each token, its type index in [0, types) or -1 (specials: neither query nor key).
void accumulate_type_attention(ProteinLM& model, const std::vector<int64_t>& tokens,
                               const std::vector<int64_t>& residue_types, int64_t types, at::Tensor& mass,
                               at::Tensor& key_counts, const TypeAttentionOptions& options = {});

// From accumulated mass [types, types] to a symmetric similarity matrix: log2 of (the share of
// attention a type gives to another) over (that type's share of keys), symmetrised. [types, types].
at::Tensor similarity_from_mass(const at::Tensor& mass, const at::Tensor& key_counts);

// The per-head recipe of Vig et al. (BERTology meets biology, ICLR 2021): for each head, the share of
// its attention that goes to keys of each type; two types are as similar as the Pearson correlation of
// their shares across heads. head_mass [heads, types, types] (query type, key type). Diagonal 1; NaN
// where a type's share does not vary across heads (fewer than 3 heads: all NaN).
at::Tensor profile_similarity(const at::Tensor& head_mass);

// The model's own substitution statistics for one sequence. residues: token ids; residue_types: the
// type of each residue in [0, types) or -1 (not counted); type_tokens: the token id of each type.
// Masked models: positions are masked with probability mask_fraction (at least one; drawn from `seed`)
// and predicted together in one pass; autoregressive models: every position is predicted from the
// residues before it. At each counted position whose true type is a, the predicted distribution over
// the types (renormalised over them) is added to sums[a] and counts[a] grows by one.
void accumulate_substitution(ProteinLM& model, const std::vector<int64_t>& residues,
                             const std::vector<int64_t>& residue_types, const std::vector<int64_t>& type_tokens,
                             at::Tensor& sums, at::Tensor& counts, uint64_t seed, double mask_fraction = 0.15);

// From those sums: log2 of the mean predicted probability of b at positions of type a over b's share of
// the counted positions, symmetrised. [types, types]; rows of types never counted are NaN.
at::Tensor similarity_from_substitution(const at::Tensor& sums, const at::Tensor& counts);

// Cosine similarity of the input token embeddings of the given tokens, centred on their mean. [n, n].
at::Tensor embedding_similarity(ProteinLM& model, const std::vector<int64_t>& type_tokens);

// Pearson and Spearman correlation of the off-diagonal entries of two square matrices.
std::pair<double, double> offdiagonal_correlations(const at::Tensor& a, const at::Tensor& b);

// The rank of the off-diagonal pair (i, j) among all pairs i < j of a symmetric matrix, most similar
// first: 1 + the number of pairs with a larger value (ties share the best rank). A pair whose value is
// not finite ranks last. Used for "where do (D,E) and (F,Y) stand".
int64_t pair_rank(const at::Tensor& matrix, int64_t i, int64_t j);

}  // namespace performer::core
