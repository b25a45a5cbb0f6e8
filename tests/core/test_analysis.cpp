#include <gtest/gtest.h>
#include <torch/torch.h>

#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "core/analysis.h"
#include "core/errors.h"
#include "io/tensor_npy.h"
#include "tests/core/reference.h"

using namespace performer;
using namespace performer::core;

namespace {

ProteinLM tiny_model(const std::string& objective, AttentionKind kind) {
  ModelConfig c = preset_config("tiny");
  c.objective = parse_name<Objective>(objective, "objective");
  c.attention = kind;
  c.seed = 4;
  ProteinLM m(c);
  m->eval();
  return m;
}

const std::vector<int64_t> kResidues = {15, 9, 15, 20, 19, 14, 7, 14, 20, 24, 5, 14, 14, 24, 14, 8};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST(Analysis, AutoregressiveScoreIsTheSumOfTokenLogProbabilities) {
  ProteinLM model = tiny_model("ar", AttentionKind::favor_softmax);
  SequenceScore s = score_autoregressive(model, kResidues);
  // Independently: the full framed row, and the log-probability of each next residue.
  std::vector<int64_t> framed = {1};
  framed.insert(framed.end(), kResidues.begin(), kResidues.end());
  framed.push_back(2);
  torch::NoGradGuard no_grad;
  at::Tensor lp = at::log_softmax(model->forward(torch::tensor(framed).unsqueeze(0))[0], -1);
  double expected = 0;
  for (size_t i = 0; i < kResidues.size(); ++i) expected += lp[i][kResidues[i]].item<double>();
  EXPECT_NEAR(s.log_likelihood, expected, 1e-4);
  EXPECT_EQ(s.length, 16);
  EXPECT_NEAR(s.perplexity, std::exp(-expected / 16), 1e-4);
  EXPECT_THROW(score_pseudo_likelihood(model, kResidues), ConfigError);
}

TEST(Analysis, PseudoLikelihoodEqualsTheOneMaskAtATimeLoop) {
  ProteinLM model = tiny_model("mlm", AttentionKind::favor_relu);
  double naive = 0;
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < kResidues.size(); ++i) {
    std::vector<int64_t> row = {1};
    row.insert(row.end(), kResidues.begin(), kResidues.end());
    row.push_back(2);
    row[i + 1] = 3;  // <mask>
    at::Tensor lp = at::log_softmax(model->forward(torch::tensor(row).unsqueeze(0))[0][i + 1], -1);
    naive += lp[kResidues[i]].item<double>();
  }
  for (int64_t batch : {1, 3, 64}) {  // batches that do and do not divide the length
    EXPECT_NEAR(score_pseudo_likelihood(model, kResidues, batch).log_likelihood, naive, 1e-4) << batch;
  }
  EXPECT_THROW(score_autoregressive(model, kResidues), ConfigError);
}

TEST(Analysis, VariantScoresFollowTheirDefinitions) {
  ProteinLM mlm = tiny_model("mlm", AttentionKind::exact);
  const std::vector<Substitution> one = {{2, 15, 22}};  // position 3: id 15 -> 22
  std::vector<int64_t> row = {1};
  row.insert(row.end(), kResidues.begin(), kResidues.end());
  row.push_back(2);
  std::vector<int64_t> masked = row;
  masked[3] = 3;
  torch::NoGradGuard no_grad;
  at::Tensor lp = at::log_softmax(mlm->forward(torch::tensor(masked).unsqueeze(0))[0][3], -1);
  EXPECT_NEAR(masked_marginal(mlm, kResidues, one), (lp[22] - lp[15]).item<double>(), 1e-5);
  at::Tensor wt = at::log_softmax(mlm->forward(torch::tensor(row).unsqueeze(0))[0][3], -1);
  EXPECT_NEAR(wildtype_marginal(mlm, kResidues, one), (wt[22] - wt[15]).item<double>(), 1e-5);
  EXPECT_THROW(masked_marginal(mlm, kResidues, {{2, 16, 22}}), InputError);  // wrong wild type

  ProteinLM ar = tiny_model("ar", AttentionKind::exact);
  std::vector<int64_t> mutant = kResidues;
  mutant[2] = 22;
  mutant[7] = 5;
  EXPECT_NEAR(log_likelihood_ratio(ar, kResidues, {{2, 15, 22}, {7, 14, 5}}),
              score_autoregressive(ar, mutant).log_likelihood - score_autoregressive(ar, kResidues).log_likelihood, 1e-6);
}

TEST(Analysis, BatchedScoresEqualScoringEachSequenceAlone) {
  // Several sequences of different lengths in padded passes: the same scores as one at a time.
  std::vector<std::vector<int64_t>> sequences;
  for (size_t n : {16u, 3u, 9u, 1u, 16u, 12u}) sequences.emplace_back(kResidues.begin(), kResidues.begin() + n);
  sequences[4][5] = 24;  // two of length 16 that differ
  for (AttentionKind kind : {AttentionKind::exact, AttentionKind::favor_softmax, AttentionKind::favor_relu}) {
    ProteinLM ar = tiny_model("ar", kind);
    for (int64_t budget : {1, 40, 100000}) {  // a pass each; a few; all in one
      size_t calls = 0;
      const auto batched = score_autoregressive_batch(ar, sequences, budget, [&](size_t) { ++calls; });
      ASSERT_EQ(batched.size(), sequences.size());
      EXPECT_EQ(calls, sequences.size());
      for (size_t s = 0; s < sequences.size(); ++s) {
        const SequenceScore alone = score_autoregressive(ar, sequences[s]);
        EXPECT_NEAR(batched[s].log_likelihood, alone.log_likelihood, 1e-4) << to_string(kind) << " " << budget << " " << s;
        EXPECT_EQ(batched[s].length, alone.length);
      }
    }
    ProteinLM mlm = tiny_model("mlm", kind);
    for (int64_t rows : {1, 5, 64}) {
      int64_t last = 0;
      const auto batched = score_pseudo_likelihood_batch(mlm, sequences, rows, [&](int64_t done) { last = done; });
      EXPECT_EQ(last, 57);  // every residue masked once
      for (size_t s = 0; s < sequences.size(); ++s) {
        EXPECT_NEAR(batched[s].log_likelihood, score_pseudo_likelihood(mlm, sequences[s]).log_likelihood, 1e-4)
            << to_string(kind) << " " << rows << " " << s;
      }
    }
  }
}

TEST(Analysis, ScansEqualScoringEachSingleMutantAlone) {
  // A deep-mutational scan is every single substitution: each entry must equal the one-mutant score.
  std::vector<int64_t> tokens;
  for (int64_t t = 5; t < 25; ++t) tokens.push_back(t);
  const std::vector<int64_t> residues(kResidues.begin(), kResidues.begin() + 11);  // 11 x 20 entries
  for (AttentionKind kind : {AttentionKind::exact, AttentionKind::favor_relu}) {
    ProteinLM mlm = tiny_model("mlm", kind);
    const at::Tensor wt = wildtype_marginal_scan(mlm, residues, tokens);
    const at::Tensor masked = masked_marginal_scan(mlm, residues, tokens, 4);  // 11 = 4 + 4 + 3
    ASSERT_EQ(masked.sizes(), (std::vector<int64_t>{11, 20}));
    EXPECT_TRUE(masked_marginal_scan(mlm, residues, tokens, 32).allclose(masked, 1e-9, 1e-6));
    ProteinLM ar = tiny_model("ar", kind);
    const at::Tensor ratio = log_likelihood_ratio_scan(ar, residues, tokens, 7);
    for (int64_t i = 0; i < 11; ++i)
      for (int64_t t = 0; t < 20; ++t) {
        const std::vector<Substitution> one = {{i, residues[i], tokens[t]}};
        EXPECT_NEAR(wt[i][t].item<double>(), wildtype_marginal(mlm, residues, one), 1e-5) << i << " " << t;
        EXPECT_NEAR(masked[i][t].item<double>(), masked_marginal(mlm, residues, one), 1e-5) << i << " " << t;
        EXPECT_NEAR(ratio[i][t].item<double>(), log_likelihood_ratio(ar, residues, one), 1e-4) << i << " " << t;
      }
    EXPECT_THROW(masked_marginal_scan(ar, residues, tokens), ConfigError);
    EXPECT_THROW(log_likelihood_ratio_scan(mlm, residues, tokens), ConfigError);
  }
}

TEST(Analysis, AttentionMapsAreRowStochasticAndCausalWhenTheModelIs) {
  for (const char* objective : {"mlm", "ar"}) {
    ProteinLM model = tiny_model(objective, AttentionKind::favor_softmax);
    std::vector<int64_t> row = {1};
    row.insert(row.end(), kResidues.begin(), kResidues.end());
    row.push_back(2);
    at::Tensor maps = attention_maps(model, row);
    ASSERT_EQ(maps.sizes(), (std::vector<int64_t>{2, 4, 18, 18}));
    EXPECT_LT(test::max_abs_diff(maps.sum(-1), at::ones({2, 4, 18})), 1e-5);
    if (std::string(objective) == "ar") {
      EXPECT_EQ(maps.triu(1).abs().max().item<double>(), 0.0);
    }
    at::Tensor contacts = contact_scores(maps);
    EXPECT_EQ(contacts.sizes(), (std::vector<int64_t>{18, 18}));
    EXPECT_LT(test::max_abs_diff(contacts, contacts.t()), 1e-6);
  }
}

// The explicit mass per (layer, head) from materialised maps [layers, heads, L, L], counting only the
// pairs keep(i, j) accepts and weights >= min_weight.
at::Tensor explicit_type_mass(const at::Tensor& maps, const std::vector<int64_t>& types, int64_t near, double min_weight) {
  at::Tensor m = maps.to(at::kDouble);
  at::Tensor out = at::zeros({m.size(0), m.size(1), 20, 20}, at::kDouble);
  for (int64_t l = 0; l < m.size(0); ++l)
    for (int64_t h = 0; h < m.size(1); ++h)
      for (size_t i = 0; i < types.size(); ++i)
        for (size_t j = 0; j < types.size(); ++j) {
          const double w = m[l][h][i][j].item<double>();
          const int64_t distance = std::abs(static_cast<int64_t>(i) - static_cast<int64_t>(j));
          if (types[i] < 0 || types[j] < 0 || distance <= near || w < min_weight) continue;
          out[l][h][types[i]][types[j]] += w;
        }
  return out;
}

TEST(Analysis, TypeAttentionWithoutLxLEqualsTheExplicitMapsForEveryHead) {
  // The one-hot-values computation must equal summing the materialised maps by residue type, head by
  // head; leaving out near pairs or small weights (the per-weight path) must equal the same filter on
  // the maps.
  for (const char* objective : {"mlm", "ar"}) {
    for (AttentionKind kind : {AttentionKind::exact, AttentionKind::favor_softmax, AttentionKind::favor_relu}) {
      ProteinLM model = tiny_model(objective, kind);
      std::vector<int64_t> row = {1};
      row.insert(row.end(), kResidues.begin(), kResidues.end());
      row.push_back(2);
      std::vector<int64_t> types = {-1};
      for (int64_t t : kResidues) types.push_back(t - 5);  // ids 5..24 -> types 0..19
      types.push_back(-1);
      const at::Tensor maps = attention_maps(model, row);  // [2, 4, 18, 18]
      const std::string what = std::string(objective) + " " + to_string(kind);
      at::Tensor mass = at::zeros({2, 4, 20, 20}, at::kDouble), counts = at::zeros({20}, at::kDouble);
      accumulate_type_attention(model, row, types, 20, mass, counts);
      EXPECT_LT(test::max_abs_diff(mass, explicit_type_mass(maps, types, -1, 0)), 1e-4) << what;
      EXPECT_EQ(counts.sum().item<double>(), 16.0);
      EXPECT_EQ(counts[9].item<double>(), 5.0);  // L (id 14) five times
      for (auto [near, min_weight] : {std::pair<int64_t, double>{0, 0.0}, {2, 0.0}, {-1, 0.08}, {1, 0.05}}) {
        at::Tensor filtered = at::zeros({2, 4, 20, 20}, at::kDouble), c2 = at::zeros({20}, at::kDouble);
        accumulate_type_attention(model, row, types, 20, filtered, c2, TypeAttentionOptions{near, min_weight});
        const at::Tensor want = explicit_type_mass(maps, types, near, min_weight);
        EXPECT_LT(test::max_abs_diff(filtered, want), 1e-4) << what << " near " << near << " min " << min_weight;
        EXPECT_LT(filtered.sum().item<double>(), mass.sum().item<double>() - 0.1) << what;  // something was left out
      }
      at::Tensor similarity = similarity_from_mass(mass.sum(std::vector<int64_t>{0, 1}) + 1e-3, counts + 1);
      EXPECT_LT(test::max_abs_diff(similarity, similarity.t()), 1e-9);
    }
  }
}

TEST(Analysis, ProfileSimilarityCorrelatesTheShareOfEachTypeAcrossHeads) {
  // Four heads, three key types; the mass of each head over key types (query types do not matter: the
  // profile sums over them). Shares per head: type 0 and type 1 rise together, type 2 falls.
  const std::vector<std::array<double, 3>> to_type = {{1, 2, 7}, {2, 3, 5}, {3, 4, 3}, {4, 6, 0}};  // totals 10, 10, 10, 10
  at::Tensor mass = at::zeros({5, 3, 3}, at::kDouble);  // head 4 gives no attention at all: left out
  for (int h = 0; h < 4; ++h)
    for (int t = 0; t < 3; ++t) {
      mass[h][0][t] = to_type[h][t] * 0.25;  // spread over two query types
      mass[h][2][t] = to_type[h][t] * 0.75;
    }
  at::Tensor s = profile_similarity(mass);
  // Shares (0.1, 0.2, 0.3, 0.4), (0.2, 0.3, 0.4, 0.6), (0.7, 0.5, 0.3, 0.0): by hand,
  // r(0, 1) = 0.98270763, r(0, 2) = -0.99437671, r(1, 2) = -0.99679058 (Python's statistics.correlation).
  EXPECT_NEAR(s[0][1].item<double>(), 0.98270763, 1e-7);
  EXPECT_NEAR(s[0][2].item<double>(), -0.99437671, 1e-7);
  EXPECT_NEAR(s[1][2].item<double>(), -0.99679058, 1e-7);
  EXPECT_LT(test::max_abs_diff(s, s.t()), 1e-12);
  EXPECT_NEAR(s[1][1].item<double>(), 1.0, 1e-12);
  // Heads scaled by any factor (more sequences, longer ones) give the same profile.
  at::Tensor scaled = mass.clone();
  scaled[1] *= 7;
  EXPECT_LT(test::max_abs_diff(profile_similarity(scaled), s), 1e-12);
  // Two heads cannot be correlated.
  EXPECT_TRUE(std::isnan(profile_similarity(mass.narrow(0, 0, 2))[0][1].item<double>()));
}

TEST(Analysis, SubstitutionLogOddsByHand) {
  // Two types; at positions of type 0 the model gave (0.6, 0.4) on average over 2 positions; at type 1
  // (0.3, 0.7) over 6. Background (0.25, 0.75): log2(p / background), then symmetrised.
  at::Tensor sums = at::tensor({1.2, 0.8, 1.8, 4.2}, at::kDouble).view({2, 2});
  at::Tensor counts = at::tensor({2.0, 6.0}, at::kDouble);
  at::Tensor s = similarity_from_substitution(sums, counts);
  EXPECT_NEAR(s[0][0].item<double>(), std::log2(0.6 / 0.25), 1e-12);
  EXPECT_NEAR(s[1][1].item<double>(), std::log2(0.7 / 0.75), 1e-12);
  const double off = 0.5 * (std::log2(0.4 / 0.75) + std::log2(0.3 / 0.25));
  EXPECT_NEAR(s[0][1].item<double>(), off, 1e-12);
  EXPECT_NEAR(s[1][0].item<double>(), off, 1e-12);
}

TEST(Analysis, SubstitutionSumsArePredictionsAtTheTrueResidues) {
  std::vector<int64_t> types, type_tokens;
  for (int64_t t : kResidues) types.push_back(t - 5);
  for (int64_t t = 5; t < 25; ++t) type_tokens.push_back(t);
  torch::NoGradGuard no_grad;
  {  // ar: every residue, predicted from the residues before it
    ProteinLM model = tiny_model("ar", AttentionKind::favor_relu);
    at::Tensor sums = at::zeros({20, 20}, at::kDouble), counts = at::zeros({20}, at::kDouble);
    accumulate_substitution(model, kResidues, types, type_tokens, sums, counts, 7);
    std::vector<int64_t> input = {1};
    input.insert(input.end(), kResidues.begin(), kResidues.end());
    at::Tensor logits = model->forward(torch::tensor(input).unsqueeze(0))[0].to(at::kDouble);
    at::Tensor want = at::zeros({20, 20}, at::kDouble);
    for (size_t i = 0; i < kResidues.size(); ++i) want[types[i]] += at::softmax(logits[i].narrow(0, 5, 20), 0);
    EXPECT_LT(test::max_abs_diff(sums, want), 1e-5);
    EXPECT_EQ(counts.sum().item<double>(), 16.0);
    EXPECT_LT(test::max_abs_diff(sums.sum(1), counts), 1e-9);  // each prediction is a distribution
  }
  {  // mlm: the masked positions depend on the seed only; each is predicted with all of them masked
    ProteinLM model = tiny_model("mlm", AttentionKind::favor_relu);
    at::Tensor a = at::zeros({20, 20}, at::kDouble), ca = at::zeros({20}, at::kDouble);
    at::Tensor b = at::zeros({20, 20}, at::kDouble), cb = at::zeros({20}, at::kDouble);
    accumulate_substitution(model, kResidues, types, type_tokens, a, ca, 11, 0.5);
    accumulate_substitution(model, kResidues, types, type_tokens, b, cb, 11, 0.5);
    EXPECT_TRUE(a.equal(b));
    EXPECT_GE(ca.sum().item<double>(), 1.0);
    EXPECT_LT(test::max_abs_diff(a.sum(1), ca), 1e-9);
    // Everything masked (fraction 1): row i of the forward over an all-mask sequence.
    at::Tensor all = at::zeros({20, 20}, at::kDouble), call = at::zeros({20}, at::kDouble);
    accumulate_substitution(model, kResidues, types, type_tokens, all, call, 3, 1.0);
    std::vector<int64_t> masked(kResidues.size() + 2, 3);
    masked.front() = 1;
    masked.back() = 2;
    at::Tensor logits = model->forward(torch::tensor(masked).unsqueeze(0))[0].to(at::kDouble);
    at::Tensor want = at::zeros({20, 20}, at::kDouble);
    for (size_t i = 0; i < kResidues.size(); ++i) want[types[i]] += at::softmax(logits[i + 1].narrow(0, 5, 20), 0);
    EXPECT_LT(test::max_abs_diff(all, want), 1e-5);
    EXPECT_EQ(call.sum().item<double>(), 16.0);
  }
}

TEST(Analysis, EmbeddingSimilarityIsTheCosineOfCentredEmbeddings) {
  ProteinLM model = tiny_model("mlm", AttentionKind::exact);
  {
    torch::NoGradGuard no_grad;
    model->embedding->weight.narrow(0, 5, 3).zero_();
    model->embedding->weight[5][0] = 1;   // (1, 0)
    model->embedding->weight[6][0] = -1;  // (-1, 0)
    model->embedding->weight[7][1] = 1;   // (0, 1)
  }
  // Centred: (1, -1/3), (-1, -1/3), (0, 2/3): cos 01 = (-8/9) / (10/9) = -0.8, cos 02 = -1/sqrt(10).
  at::Tensor s = embedding_similarity(model, {5, 6, 7});
  EXPECT_NEAR(s[0][1].item<double>(), -0.8, 1e-6);
  EXPECT_NEAR(s[0][2].item<double>(), -1 / std::sqrt(10.0), 1e-6);
  EXPECT_NEAR(s[1][2].item<double>(), -1 / std::sqrt(10.0), 1e-6);
  EXPECT_NEAR(s[2][2].item<double>(), 1.0, 1e-6);
}

TEST(Analysis, PairRanksCountLargerPairs) {
  // Pairs: (0,1) 5, (0,2) 9, (0,3) 5, (1,2) nan, (1,3) 1, (2,3) 7.
  const double nan = std::nan("");
  at::Tensor m = at::tensor(std::vector<double>{0, 5, 9, 5, 5, 0, nan, 1, 9, nan, 0, 7, 5, 1, 7, 0}, at::kDouble).view({4, 4});
  EXPECT_EQ(pair_rank(m, 0, 2), 1);
  EXPECT_EQ(pair_rank(m, 3, 2), 2);
  EXPECT_EQ(pair_rank(m, 0, 1), 3);  // ties share the best rank
  EXPECT_EQ(pair_rank(m, 3, 0), 3);
  EXPECT_EQ(pair_rank(m, 1, 3), 5);
  EXPECT_EQ(pair_rank(m, 1, 2), 6);  // not finite: last
  EXPECT_THROW(pair_rank(m, 1, 1), ConfigError);
}

TEST(Analysis, OffDiagonalCorrelations) {
  at::Tensor a = at::tensor({0.0, 1.0, 2.0, 1.0, 0.0, 3.0, 2.0, 3.0, 0.0}, at::kDouble).view({3, 3});
  at::Tensor b = a * 2 + 1;
  auto [p, s] = offdiagonal_correlations(a, b);
  EXPECT_NEAR(p, 1.0, 1e-12);
  EXPECT_NEAR(s, 1.0, 1e-12);
  at::Tensor c = at::tensor({9.0, -1.0, 5.0, -1.0, 9.0, 5.0, 5.0, 5.0, 9.0}, at::kDouble).view({3, 3});
  // Pairs (1, 2, 3) against (-1, 5, 5): Pearson 0.866; ranks (1, 2, 3) against (1, 2.5, 2.5): 0.866.
  auto [p2, s2] = offdiagonal_correlations(a, c);
  EXPECT_NEAR(p2, 0.8660254, 1e-6);
  EXPECT_NEAR(s2, 0.8660254, 1e-6);
}

TEST(Npy, BytesMatchNumpyAndReadBack) {
  const auto dir = std::filesystem::temp_directory_path() / "performer-npy-test";
  std::filesystem::create_directories(dir);
  const std::string golden = std::string(PERFORMER_SOURCE_DIR) + "/tests/core/golden/";
  // Files written by numpy.save (numpy 1.24) for np.arange(6, dtype=float32).reshape(2, 3), np.arange(3).
  io::write_npy((dir / "a.npy").string(), torch::arange(6, torch::kFloat).view({2, 3}));
  EXPECT_EQ(read_bytes((dir / "a.npy").string()), read_bytes(golden + "arange_2x3_float32.npy"));
  io::write_npy((dir / "b.npy").string(), torch::arange(3, torch::kLong));
  EXPECT_EQ(read_bytes((dir / "b.npy").string()), read_bytes(golden + "arange_3_int64.npy"));
  at::Tensor x = torch::randn({2, 3, 4});
  io::write_npy((dir / "x.npy").string(), x);
  EXPECT_TRUE(io::read_npy_tensor((dir / "x.npy").string()).equal(x));
  EXPECT_THROW(io::write_npy("/no/such/dir/x.npy", x), InputError);
  EXPECT_THROW(io::read_npy_tensor(golden + "../test_analysis.cpp"), InputError);
}

// Analyses run the model as in evaluation whatever mode the caller left it in (no dropout, no
// projection redraw), and leave that mode as they found it.
TEST(Analysis, RunsInEvalModeAndLeavesTheModeAsItWas) {
  ModelConfig c = preset_config("tiny");
  c.attention = AttentionKind::favor_softmax;
  c.dropout = 0.5;
  c.redraw_interval = 1;
  c.seed = 4;
  ProteinLM model(c);
  model->eval();
  const double expected = score_pseudo_likelihood(model, kResidues).log_likelihood;
  const at::Tensor maps = attention_maps(model, framed_tokens(kResidues));
  model->train();
  const at::Tensor projection = model->blocks[0]->as<TransformerBlock>()->attention->projection.clone();
  EXPECT_EQ(score_pseudo_likelihood(model, kResidues).log_likelihood, expected);
  EXPECT_TRUE(attention_maps(model, framed_tokens(kResidues)).equal(maps));
  EXPECT_TRUE(model->is_training());
  EXPECT_TRUE(model->blocks[0]->as<TransformerBlock>()->attention->projection.equal(projection));  // no redraw
}

// Pairs with a value that is not finite (never seen: log of 0) leave both coefficients, so that
// Pearson and Spearman always describe the same pairs (no "Pearson nan" beside a number).
TEST(Analysis, CorrelationsLeaveOutPairsThatAreNotFinite) {
  at::Tensor a = torch::tensor({{0.0, 1.0, 2.0, 3.0}, {1.0, 0.0, 4.0, 5.0}, {2.0, 4.0, 0.0, 6.0}, {3.0, 5.0, 6.0, 0.0}},
                               torch::kDouble);
  at::Tensor b = a * 2 + 1;
  const auto [pearson, spearman] = offdiagonal_correlations(a, b);
  EXPECT_NEAR(pearson, 1.0, 1e-12);
  EXPECT_NEAR(spearman, 1.0, 1e-12);
  a[0][1] = -std::numeric_limits<double>::infinity();
  b[2][3] = 100.0;  // breaks the linear relation on a pair that stays
  const auto [p2, s2] = offdiagonal_correlations(a, b);
  EXPECT_TRUE(std::isfinite(p2));
  EXPECT_LT(p2, 1.0);
  EXPECT_NEAR(s2, 1.0, 1e-12);  // the order is unchanged on the five pairs left
  a[0][2] = a[0][3] = a[1][2] = std::nan("");
  const auto [p3, s3] = offdiagonal_correlations(a, b);  // two pairs left: too few
  EXPECT_TRUE(std::isnan(p3));
  EXPECT_TRUE(std::isnan(s3));
}
