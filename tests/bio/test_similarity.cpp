// bio::residue_similarity: every method on a tiny model, against constructed answers where one exists
// (a hand-set embedding), symmetry, the order of sequences, the controls' determinism.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <limits>
#include <string>

#include "bio/similarity.h"
#include "core/errors.h"
#include "tests/bio/files.h"

using namespace performer;

namespace {

core::ProteinLM tiny(core::Objective objective, core::AttentionKind kind) {
  core::ModelConfig c = core::preset_config("tiny");
  c.objective = objective;
  c.attention = kind;
  c.seed = 9;
  return core::ProteinLM(c);
}

const std::string kA = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVKALPDAQFEVVHSLAKWKRQTLGQHDFSAGEGLYTHMKALRPDEDRLSPLHSVYVDQWDWERVMGDGERQFSTLKSTVEAIWAGIKATEAAVSEEFGLAPFLPDQIHFVHSQELLSRYPDLDAKGRERAIAKDLGAVFLVGIGGKLSDGHRHDVRAPDYDDWSTPSELGHAGLNGDILVWNPVLEDAFELSSMGIRVDADTLKHQLALTGDEDRLELEWHQALLRGEMPQTIGGGIGQSRLTMLLLQLPHIGQVQCGVWPAACRESVPALL";
const std::string kB = "MSDNGPQNQRNAPRITFGGPSDSTGSNQNGERSGARSKQRRPQGLPNNTASWFTALTQHGKEDLKFPRGQGVPINTNSSPDDQIGYYRRATRRIRGGDGKMKDLSPRWYFYYLGTGPEAGLPYGANKDGIIWVATEGALNTPKDHIGTRNPANNAAIVLQLPQGTTLPKGFYAEGSRGGSQASSRSSSRSRNSSRNSTPGSSRGTSPARMAGNGGDAALALLLLDRLNQLESKMSGKGQQQQGQTVTKKSAAEASKKPRQKRTATKAYNVTQAFGRRGPEQTQGNFGDQELIRQGTDYKHWPQIAQFAPSASAFFGMSRIGMEVTPSGTWLTYTGAIKLDDKDPNFKDQVILLNKHIDAYKTFPPTEPKKDKKKKADETQALPQRQKKQQTVTLLPAADLDDFSKQLQQSMSSADSTQA";
const std::string kC = "MAEGEITTFTALTEKFNLPPGNYKKPKLLYCSNGGHFLRILPDGTVDGTRDRSDQHIQLQLSAESVGEVYIKSTETGQYLAMDTDGLLYGSQTPNEECLFLERLEENHYNTYISKKHAEKNWFVGLKKNGSCKRGPRTHYGQKAILFLPLPV";

std::string fasta(const std::vector<std::string>& sequences) {
  std::string text;
  for (size_t i = 0; i < sequences.size(); ++i) text += ">s" + std::to_string(i) + "\n" + sequences[i] + "\n";
  return text;
}

bio::SimilarityOptions method(bio::SimilarityMethod m) {
  bio::SimilarityOptions o;
  o.method = m;
  return o;
}

double max_diff(const at::Tensor& a, const at::Tensor& b) {
  // NaN in the same places counts as equal (a pair never seen); NaN in one of them as infinitely far.
  at::Tensor both_nan = at::isnan(a) & at::isnan(b);
  at::Tensor diff = (a - b).abs();
  diff = at::where(at::isnan(diff), at::full_like(diff, std::numeric_limits<double>::infinity()), diff);
  return at::where(both_nan, at::zeros_like(a), diff).max().item<double>();
}

}  // namespace

TEST(Similarity, EveryMethodIsSymmetricAndComparedWithTheReference) {
  const std::string file = test::write_plain("sim-abc.fasta", fasta({kA, kB, kC}));
  for (core::Objective objective : {core::Objective::mlm, core::Objective::ar}) {
    core::ProteinLM model = tiny(objective, core::AttentionKind::favor_relu);
    for (bio::SimilarityMethod m : {bio::SimilarityMethod::attention, bio::SimilarityMethod::attention_profile,
                                    bio::SimilarityMethod::substitution, bio::SimilarityMethod::embedding}) {
      const std::string what = core::to_string(objective) + " " + core::to_string(m);
      const bio::ResidueSimilarity r =
          bio::residue_similarity(model, m == bio::SimilarityMethod::embedding ? "" : file, method(m));
      ASSERT_EQ(r.model.matrix.sizes(), (std::vector<int64_t>{20, 20})) << what;
      EXPECT_LT(max_diff(r.model.matrix, r.model.matrix.t()), 1e-9) << what;
      EXPECT_TRUE(std::isfinite(r.model.pearson) && std::abs(r.model.pearson) <= 1) << what;
      EXPECT_EQ(r.model.pair_ranks.size(), bio::kNotablePairs.size());
      for (int64_t rank : r.model.pair_ranks) EXPECT_TRUE(rank >= 1 && rank <= 190) << what;
      // BLOSUM62: D-E scores 2, among the best off-diagonal pairs; F-Y 3, I-V 3.
      EXPECT_LE(r.reference_pair_ranks[0], 20);
      EXPECT_LE(r.reference_pair_ranks[1], 5);
      ASSERT_TRUE(r.untrained.has_value()) << what;
      EXPECT_EQ(r.shuffled.has_value(), m != bio::SimilarityMethod::embedding) << what;
      EXPECT_EQ(r.sequences, m == bio::SimilarityMethod::embedding ? 0 : 3) << what;
      EXPECT_EQ(r.heads.empty(), !bio::uses_attention(m)) << what;
      // The untrained model of the same config is this model before training: here, the same weights.
      EXPECT_LT(max_diff(r.untrained->matrix, r.model.matrix), 1e-6) << what;
    }
  }
}

TEST(Similarity, TheOrderOfSequencesDoesNotMatterAndControlsAreDeterministic) {
  core::ProteinLM model = tiny(core::Objective::mlm, core::AttentionKind::exact);
  {  // a trained model differs from its initialisation: perturb the weights a little
    torch::NoGradGuard no_grad;
    torch::manual_seed(3);
    for (auto& p : model->parameters()) p.add_(torch::randn_like(p) * 0.05);
  }
  const std::string forward = test::write_plain("sim-fwd.fasta", fasta({kA, kB, kC}));
  const std::string backward = test::write_plain("sim-bwd.fasta", fasta({kC, kB, kA}));
  for (bio::SimilarityMethod m : {bio::SimilarityMethod::attention, bio::SimilarityMethod::attention_profile}) {
    const auto a = bio::residue_similarity(model, forward, method(m));
    const auto b = bio::residue_similarity(model, backward, method(m));
    EXPECT_LT(max_diff(a.model.matrix, b.model.matrix), 1e-9) << core::to_string(m);
    EXPECT_GT(max_diff(a.untrained->matrix, a.model.matrix), 1e-4) << "the untrained control is another model";
    const auto again = bio::residue_similarity(model, forward, method(m));
    EXPECT_TRUE(again.shuffled->matrix.equal(a.shuffled->matrix));
    EXPECT_TRUE(again.untrained->matrix.equal(a.untrained->matrix));
    EXPECT_GT(max_diff(a.shuffled->matrix, a.model.matrix), 1e-4) << "shuffling changes what attention sees";
  }
  // Substitution: the same seed, the same masks and matrix; another seed, other masks.
  auto o = method(bio::SimilarityMethod::substitution);
  const auto s1 = bio::residue_similarity(model, forward, o);
  const auto s2 = bio::residue_similarity(model, forward, o);
  EXPECT_TRUE(s1.model.matrix.equal(s2.model.matrix));
  o.seed = 2;
  EXPECT_GT(max_diff(bio::residue_similarity(model, forward, o).model.matrix, s1.model.matrix), 1e-6);
}

TEST(Similarity, ShufflingKeepsTheComposition) {
  std::vector<int64_t> residues;
  for (int i = 0; i < 200; ++i) residues.push_back(5 + (i * 7) % 20);
  const auto a = bio::shuffled_residues(residues, 5), b = bio::shuffled_residues(residues, 5);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, residues);
  EXPECT_NE(a, bio::shuffled_residues(residues, 6));
  auto sorted_a = a, sorted_r = residues;
  std::sort(sorted_a.begin(), sorted_a.end());
  std::sort(sorted_r.begin(), sorted_r.end());
  EXPECT_EQ(sorted_a, sorted_r);
}

TEST(Similarity, HeadScoresAndChoicesOfHeads) {
  core::ProteinLM model = tiny(core::Objective::mlm, core::AttentionKind::favor_softmax);  // 2 layers x 4 heads
  const std::string file = test::write_plain("sim-heads.fasta", fasta({kA, kB}));
  auto o = method(bio::SimilarityMethod::attention);
  o.controls = false;
  const auto all = bio::residue_similarity(model, file, o);
  EXPECT_FALSE(all.untrained.has_value());
  ASSERT_EQ(all.heads.size(), 2u * (4 + 1));  // each head, then its layer
  // One head chosen: the matrix is that head's, and its correlation the one in the per-head table.
  o.layers = {1};
  o.heads = {2};
  const auto one = bio::residue_similarity(model, file, o);
  const bio::HeadScore& h12 = all.heads[1 * 5 + 2];
  ASSERT_EQ(h12.layer, 1);
  ASSERT_EQ(h12.head, 2);
  EXPECT_NEAR(one.model.pearson, h12.pearson, 1e-9);
  EXPECT_NEAR(one.model.spearman, h12.spearman, 1e-9);
  // attention-profile: one row per layer; fewer than 3 heads chosen is a configuration error.
  auto p = method(bio::SimilarityMethod::attention_profile);
  p.controls = false;
  EXPECT_EQ(bio::residue_similarity(model, file, p).heads.size(), 2u);
  p.heads = {0, 1};
  p.layers = {0};
  EXPECT_THROW(bio::residue_similarity(model, file, p), ConfigError);
  p.layers = {7};
  EXPECT_THROW(bio::residue_similarity(model, file, p), ConfigError);
  auto s = method(bio::SimilarityMethod::substitution);
  s.exclude_near = 3;
  EXPECT_THROW(bio::residue_similarity(model, file, s), ConfigError);
  EXPECT_THROW(bio::residue_similarity(model, test::write_plain("sim-empty.fasta", ""), method(bio::SimilarityMethod::attention)),
               InputError);
}

TEST(Similarity, LeavingOutNeighboursChangesOnlyTheAttentionMethods) {
  core::ProteinLM model = tiny(core::Objective::ar, core::AttentionKind::favor_relu);
  const std::string file = test::write_plain("sim-near.fasta", fasta({kC}));
  auto o = method(bio::SimilarityMethod::attention);
  o.controls = false;
  const auto all = bio::residue_similarity(model, file, o);
  o.exclude_near = 0;  // no attention to itself: the diagonal (a residue to its own type) loses the most
  const auto far = bio::residue_similarity(model, file, o);
  EXPECT_GT(max_diff(all.model.matrix, far.model.matrix), 1e-3);
}
