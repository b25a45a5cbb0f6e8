#include "bio/similarity.h"

#include "bio/fasta.h"
#include "bio/matrix.h"
#include "bio/vocabulary.h"
#include "core/analysis.h"
#include "core/errors.h"

namespace performer::bio {

ResidueSimilarity residue_similarity(core::ProteinLM& model, const std::string& fasta, int64_t n,
                                     const std::string& matrix, UnknownPolicy unknown,
                                     const std::function<void(int64_t)>& after_sequence) {
  const SubstitutionMatrix reference = load_matrix(matrix).restricted(kStandardOrder);
  const int64_t types = static_cast<int64_t>(kStandardOrder.size());
  at::Tensor mass = at::zeros({types, types}, at::kDouble);  // [query type, key type]
  at::Tensor key_counts = at::zeros({types}, at::kDouble);   // [types]
  FastaReader reader(fasta);
  SequenceRecord record;
  ResidueSimilarity result;
  while (result.sequences < n && reader.next(record)) {
    const std::vector<int64_t> residues = residue_tokens(record.sequence, unknown, reader.where(record));
    if (residues.empty()) continue;  // skipped under UnknownPolicy::skip
    std::vector<int64_t> kinds = {-1};  // <cls>
    for (int64_t t : residues) {
      const size_t k = kStandardOrder.find(Vocabulary::letter(static_cast<int32_t>(t)));
      kinds.push_back(k == std::string_view::npos ? -1 : static_cast<int64_t>(k));
    }
    kinds.push_back(-1);  // <eos>
    core::accumulate_type_attention(model, framed_tokens(residues), kinds, types, mass, key_counts);
    ++result.sequences;
    if (after_sequence) after_sequence(result.sequences);
  }
  if (result.sequences == 0) throw InputError("'" + fasta + "' holds no sequence to analyse");
  result.attention = core::similarity_from_mass(mass, key_counts);
  result.reference = at::tensor(reference.scores, at::kDouble).view({types, types});
  result.reference_name = reference.name;
  std::tie(result.pearson, result.spearman) = core::offdiagonal_correlations(result.attention, result.reference);
  return result;
}

}  // namespace performer::bio
