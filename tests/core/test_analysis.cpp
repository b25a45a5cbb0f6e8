#include <gtest/gtest.h>
#include <torch/torch.h>

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

TEST(Analysis, TypeAttentionWithoutLxLEqualsTheExplicitMaps) {
  // The one-hot-values computation must equal summing the materialised maps by residue type.
  for (AttentionKind kind : {AttentionKind::exact, AttentionKind::favor_softmax}) {
    ProteinLM model = tiny_model("mlm", kind);
    std::vector<int64_t> row = {1};
    row.insert(row.end(), kResidues.begin(), kResidues.end());
    row.push_back(2);
    std::vector<int64_t> types = {-1};
    for (int64_t t : kResidues) types.push_back(t - 5);  // ids 5..24 -> types 0..19
    types.push_back(-1);
    at::Tensor mass = at::zeros({20, 20}, at::kDouble), counts = at::zeros({20}, at::kDouble);
    accumulate_type_attention(model, row, types, 20, mass, counts);
    at::Tensor maps = attention_maps(model, row).to(at::kDouble).sum(std::vector<int64_t>{0, 1});  // [L, L]
    at::Tensor explicit_mass = at::zeros({20, 20}, at::kDouble);
    for (size_t i = 0; i < row.size(); ++i)
      for (size_t j = 0; j < row.size(); ++j)
        if (types[i] >= 0 && types[j] >= 0) explicit_mass[types[i]][types[j]] += maps[i][j];
    EXPECT_LT(test::max_abs_diff(mass, explicit_mass), 1e-4) << to_string(kind);
    EXPECT_EQ(counts.sum().item<double>(), 16.0);
    at::Tensor similarity = similarity_from_mass(mass + 1e-3, counts + 1);
    EXPECT_LT(test::max_abs_diff(similarity, similarity.t()), 1e-9);
  }
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
