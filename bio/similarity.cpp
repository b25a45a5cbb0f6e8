#include "bio/similarity.h"

#include <algorithm>
#include <random>

#include "bio/fasta.h"
#include "bio/matrix.h"
#include "bio/vocabulary.h"
#include "core/analysis.h"
#include "core/errors.h"

namespace performer::bio {
namespace {

constexpr int64_t kTypes = static_cast<int64_t>(kStandardOrder.size());

// A well-mixed 64-bit seed for item `index` of a run seeded with `seed` (splitmix64's finaliser).
uint64_t mix(uint64_t seed, uint64_t index) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (index + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// What one model on one set of sequences adds up to, for any method.
struct Sums {
  at::Tensor mass;        // [layers, heads, T, T] attention mass (attention methods)
  at::Tensor key_counts;  // [T]
  at::Tensor predicted;   // [T, T] summed predicted distributions (substitution)
  at::Tensor counts;      // [T]

  Sums(const core::ModelConfig& config)
      : mass(at::zeros({config.layers, config.heads, kTypes, kTypes}, at::kDouble)),
        key_counts(at::zeros({kTypes}, at::kDouble)),
        predicted(at::zeros({kTypes, kTypes}, at::kDouble)),
        counts(at::zeros({kTypes}, at::kDouble)) {}
};

std::vector<int64_t> type_tokens() {
  std::vector<int64_t> out;
  for (char c : kStandardOrder) out.push_back(Vocabulary::residue_id(c));
  return out;
}

int64_t type_of(int64_t token) {
  return Vocabulary::is_standard(static_cast<int32_t>(token)) ? token - Vocabulary::kFirstResidue : -1;
}

void add_sequence(core::ProteinLM& model, const std::vector<int64_t>& residues, const SimilarityOptions& o,
                  uint64_t seed, Sums& sums) {
  std::vector<int64_t> types;
  types.reserve(residues.size());
  for (int64_t t : residues) types.push_back(type_of(t));
  if (o.method == SimilarityMethod::substitution) {
    core::accumulate_substitution(model, residues, types, type_tokens(), sums.predicted, sums.counts, seed);
    return;
  }
  std::vector<int64_t> framed_types = {-1};  // <cls>
  framed_types.insert(framed_types.end(), types.begin(), types.end());
  framed_types.push_back(-1);  // <eos>
  core::TypeAttentionOptions attention;
  attention.exclude_near = o.exclude_near;
  attention.min_weight = o.min_attention;
  core::accumulate_type_attention(model, core::framed_tokens(residues), framed_types, kTypes, sums.mass,
                                  sums.key_counts, attention);
}

// Which (layer, head) the attention methods use: [layers, heads] bool.
at::Tensor selected_heads(const core::ModelConfig& config, const SimilarityOptions& o) {
  at::Tensor layer_ok = at::zeros({config.layers}, at::kBool), head_ok = at::zeros({config.heads}, at::kBool);
  if (o.layers.empty()) layer_ok.fill_(true);
  for (int64_t l : o.layers) layer_ok[l] = true;
  if (o.heads.empty()) head_ok.fill_(true);
  for (int64_t h : o.heads) head_ok[h] = true;
  return layer_ok.unsqueeze(1) & head_ok.unsqueeze(0);
}

SimilarityMatrix compare(at::Tensor matrix, const at::Tensor& reference) {
  SimilarityMatrix out;
  out.matrix = std::move(matrix);
  std::tie(out.pearson, out.spearman) = core::offdiagonal_correlations(out.matrix, reference);
  for (std::string_view pair : kNotablePairs)
    out.pair_ranks.push_back(core::pair_rank(out.matrix, static_cast<int64_t>(kStandardOrder.find(pair[0])),
                                             static_cast<int64_t>(kStandardOrder.find(pair[1]))));
  return out;
}

// The method's matrix from what was summed, over the chosen heads.
at::Tensor finish(const Sums& sums, const SimilarityOptions& o, const at::Tensor& selected) {
  switch (o.method) {
    case SimilarityMethod::attention:
      return core::similarity_from_mass(
          (sums.mass * selected.to(at::kDouble).view({selected.size(0), selected.size(1), 1, 1})).sum(std::vector<int64_t>{0, 1}),
          sums.key_counts);
    case SimilarityMethod::attention_profile:
      return core::profile_similarity(sums.mass.flatten(0, 1).index_select(0, selected.flatten().nonzero().squeeze(1)));
    case SimilarityMethod::substitution:
      return core::similarity_from_substitution(sums.predicted, sums.counts);
    case SimilarityMethod::embedding:
      break;
  }
  throw ConfigError("this similarity method reads no sequences");
}

std::vector<HeadScore> head_scores(const Sums& sums, const SimilarityOptions& o, const at::Tensor& reference) {
  std::vector<HeadScore> out;
  const int64_t layers = sums.mass.size(0), heads = sums.mass.size(1);
  auto add = [&](int64_t layer, int64_t head, const at::Tensor& matrix) {
    HeadScore s;
    s.layer = layer;
    s.head = head;
    std::tie(s.pearson, s.spearman) = core::offdiagonal_correlations(matrix, reference);
    out.push_back(s);
  };
  for (int64_t l = 0; l < layers; ++l) {
    if (o.method == SimilarityMethod::attention) {
      for (int64_t h = 0; h < heads; ++h) add(l, h, core::similarity_from_mass(sums.mass[l][h], sums.key_counts));
      add(l, -1, core::similarity_from_mass(sums.mass[l].sum(0), sums.key_counts));
    } else {
      add(l, -1, core::profile_similarity(sums.mass[l]));
    }
  }
  return out;
}

void check_options(const core::ModelConfig& config, const SimilarityOptions& o) {
  const bool attention = uses_attention(o.method);
  require_config(attention || (o.exclude_near < 0 && o.min_attention == 0 && o.layers.empty() && o.heads.empty()),
                 "leaving out near pairs or small weights, and choosing layers or heads, apply to the attention "
                 "methods only");
  require_config(o.exclude_near >= -1, "the distance of near pairs left out must be -1 (none) or more");
  require_config(o.min_attention >= 0 && o.min_attention < 1, "the smallest attention weight counted must be in [0, 1)");
  for (int64_t l : o.layers)
    require_config(l >= 0 && l < config.layers, "layer " + std::to_string(l) + " does not exist (the model has " +
                                                    std::to_string(config.layers) + ": 0.." +
                                                    std::to_string(config.layers - 1) + ")");
  for (int64_t h : o.heads)
    require_config(h >= 0 && h < config.heads, "head " + std::to_string(h) + " does not exist (the model has " +
                                                   std::to_string(config.heads) + " a layer: 0.." +
                                                   std::to_string(config.heads - 1) + ")");
  if (o.method == SimilarityMethod::attention_profile) {
    const int64_t used = (o.layers.empty() ? config.layers : static_cast<int64_t>(o.layers.size())) *
                         (o.heads.empty() ? config.heads : static_cast<int64_t>(o.heads.size()));
    require_config(used >= 3, "the attention profile correlates types across heads and needs 3 or more (" +
                                  std::to_string(used) + " chosen)");
  }
}

}  // namespace

bool uses_attention(SimilarityMethod method) {
  return method == SimilarityMethod::attention || method == SimilarityMethod::attention_profile;
}

bool uses_sequences(SimilarityMethod method) { return method != SimilarityMethod::embedding; }

std::vector<int64_t> shuffled_residues(std::vector<int64_t> residues, uint64_t seed) {
  std::mt19937_64 rng(seed);
  // Fisher-Yates with our own index draws: std::shuffle's order is not specified across libraries.
  for (size_t i = residues.size(); i > 1; --i) {
    const size_t j = static_cast<size_t>(rng() % i);
    std::swap(residues[i - 1], residues[j]);
  }
  return residues;
}

ResidueSimilarity residue_similarity(core::ProteinLM& model, const std::string& fasta, const SimilarityOptions& o,
                                     const std::function<void(int64_t)>& after_sequence) {
  const core::ModelConfig& config = model->config;
  check_options(config, o);
  const SubstitutionMatrix reference = load_matrix(o.matrix).restricted(kStandardOrder);
  ResidueSimilarity result;
  result.method = o.method;
  result.reference = at::tensor(reference.scores, at::kDouble).view({kTypes, kTypes});
  result.reference_name = reference.name;
  for (std::string_view pair : kNotablePairs)
    result.reference_pair_ranks.push_back(core::pair_rank(result.reference, static_cast<int64_t>(kStandardOrder.find(pair[0])),
                                                          static_cast<int64_t>(kStandardOrder.find(pair[1]))));
  // The untrained control: the same config, so the same seeded initialisation and projections.
  std::optional<core::ProteinLM> untrained;
  if (o.controls) {
    untrained.emplace(config);
    (*untrained)->to(model->embedding->weight.device());
    (*untrained)->eval();
  }

  if (o.method == SimilarityMethod::embedding) {
    result.model = compare(core::embedding_similarity(model, type_tokens()), result.reference);
    if (untrained) result.untrained = compare(core::embedding_similarity(*untrained, type_tokens()), result.reference);
    return result;
  }

  Sums trained(config), fresh(config), shuffled(config);
  FastaReader reader(fasta);
  SequenceRecord record;
  while (result.sequences < o.n && reader.next(record)) {
    const std::vector<int64_t> residues = residue_tokens(record.sequence, o.unknown, reader.where(record));
    if (residues.empty()) continue;  // skipped under UnknownPolicy::skip
    const uint64_t seed = mix(o.seed, static_cast<uint64_t>(result.sequences));
    add_sequence(model, residues, o, seed, trained);
    if (untrained) {
      add_sequence(*untrained, residues, o, seed, fresh);
      add_sequence(model, shuffled_residues(residues, mix(seed, 1)), o, seed, shuffled);
    }
    ++result.sequences;
    result.residues += static_cast<int64_t>(residues.size());
    if (after_sequence) after_sequence(result.sequences);
  }
  if (result.sequences == 0) throw InputError("'" + fasta + "' holds no sequence to analyse");
  const at::Tensor selected = selected_heads(config, o);
  result.model = compare(finish(trained, o, selected), result.reference);
  if (untrained) {
    result.untrained = compare(finish(fresh, o, selected), result.reference);
    result.shuffled = compare(finish(shuffled, o, selected), result.reference);
  }
  if (uses_attention(o.method)) result.heads = head_scores(trained, o, result.reference);
  return result;
}

}  // namespace performer::bio
