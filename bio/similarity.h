#pragma once
// Amino-acid similarity matrices that show what a model learned, by the recipes the field uses, each
// against a substitution matrix (BLOSUM62) and beside two controls: the untrained model of the same
// config (its seeded initialisation) and the trained model on the same sequences with their residues
// shuffled. Shared by `performer similarity` and the viewer's similarity tab.
#include <ATen/ATen.h>

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bio/vocabulary.h"
#include "core/model.h"
#include "core/names.h"

namespace performer::bio {

constexpr std::string_view kStandardOrder = "ACDEFGHIKLMNPQRSTVWY";  // rows and columns of every matrix
// The same 20 by residue group: hydrophobic AVLIM, aromatic FWY, charged DEKRH, polar STNQ, special CGP.
constexpr std::string_view kGroupOrder = "AVLIMFWYDEKRHSTNQCGP";
constexpr std::array<int, 5> kGroupSizes = {5, 3, 5, 4, 3};

// Pairs whose rank is reported: the pairs BLOSUM62 and the Performer paper's figure single out.
constexpr std::array<std::string_view, 7> kNotablePairs = {"DE", "FY", "KR", "IV", "IL", "ST", "ND"};

enum class SimilarityMethod {
  attention,          // log2 odds of the attention mass between types (the Performer paper's figure)
  attention_profile,  // correlation across heads of the share of attention to each type (Vig et al.)
  substitution,       // the model's predicted distribution at positions of each type, as log-odds
  embedding,          // cosine similarity of the centred input token embeddings
};

// Its names (core/names.h; found by argument-dependent lookup, so declared here).
constexpr core::NameList<SimilarityMethod, 4> names(SimilarityMethod) {
  return {{{SimilarityMethod::attention, "attention"},
           {SimilarityMethod::attention_profile, "attention-profile"},
           {SimilarityMethod::substitution, "substitution"},
           {SimilarityMethod::embedding, "embedding"}}};
}

bool uses_attention(SimilarityMethod method);  // attention, attention_profile
bool uses_sequences(SimilarityMethod method);  // all but embedding

struct SimilarityOptions {
  SimilarityMethod method = SimilarityMethod::attention;
  int64_t n = 800;                      // the first n sequences of the file
  std::string matrix = "blosum62";      // reference: a built-in name or an NCBI-format file
  UnknownPolicy unknown = UnknownPolicy::error;
  // Attention methods: leave out pairs with |i - j| <= exclude_near (-1: keep all), or weights below
  // min_attention (0: keep all); either forms each head's L x L weights (core::TypeAttentionOptions).
  int64_t exclude_near = -1;
  double min_attention = 0;
  std::vector<int64_t> layers, heads;   // attention methods: only these (empty: all)
  bool controls = true;                 // also the untrained model and shuffled sequences
  uint64_t seed = 1;                    // masks (substitution) and shuffles
};

// One matrix and how it compares with the reference.
struct SimilarityMatrix {
  at::Tensor matrix;                    // [20, 20] double, kStandardOrder, symmetric
  double pearson = 0, spearman = 0;     // over the off-diagonal pairs that are finite in both
  std::vector<int64_t> pair_ranks;      // rank (1 = most similar of 190) of each of kNotablePairs
};

// Per-head (attention) or per-layer (attention-profile, across the layer's heads) comparison.
struct HeadScore {
  int64_t layer = 0;
  int64_t head = -1;                    // -1: the whole layer
  double pearson = 0, spearman = 0;
};

struct ResidueSimilarity {
  SimilarityMethod method = SimilarityMethod::attention;
  SimilarityMatrix model;                              // the trained model on the sequences
  std::optional<SimilarityMatrix> untrained, shuffled;  // controls (shuffled: not for embedding)
  at::Tensor reference;                                // [20, 20] double
  std::string reference_name;                          // "blosum62", or the matrix file
  std::vector<int64_t> reference_pair_ranks;
  std::vector<HeadScore> heads;                        // attention methods; empty otherwise
  int64_t sequences = 0;                               // sequences used (0 for embedding)
  int64_t residues = 0;
};

// Reads up to options.n sequences of `fasta` (not for the embedding method, which reads none: pass
// an empty path); characters that are not residues follow options.unknown (x: read as X, which has no
// row; skip: the record is left out; error: InputError naming record and position).
// after_sequence(sequences so far) runs after each one: for progress, and it may throw to stop.
// Throws InputError when the file holds no sequence, ConfigError for options the method cannot take.
ResidueSimilarity residue_similarity(core::ProteinLM& model, const std::string& fasta,
                                     const SimilarityOptions& options,
                                     const std::function<void(int64_t)>& after_sequence = {});

// The residues of one sequence in a seeded random order (the shuffled control): composition kept,
// order gone. Deterministic in (residues, seed).
std::vector<int64_t> shuffled_residues(std::vector<int64_t> residues, uint64_t seed);

}  // namespace performer::bio
