#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <filesystem>
#include <fstream>
#include <random>

#include "core/checkpoint.h"
#include "core/errors.h"
#include "tools/memory.h"
#include "core/model.h"
#include "core/muon.h"
#include "core/trainer.h"
#include "tests/core/reference.h"

using namespace performer;
using namespace performer::core;

namespace {

ModelConfig tiny(const std::string& objective, AttentionKind kind, int64_t redraw_interval = 5) {
  ModelConfig c = preset_config("tiny");
  c.objective = parse_name<Objective>(objective, "objective");
  c.attention = kind;
  c.redraw_interval = redraw_interval;
  return c;
}

// Cosine similarity of two tensors as flat vectors.
double cosine(const at::Tensor& a, const at::Tensor& b) {
  return (a * b).sum().item<double>() / (a.norm() * b.norm()).item<double>();
}

// A handful of fixed "proteins" as token rows: <cls>=1 ... <eos>=2, residues 5..24.
std::vector<std::vector<int64_t>> toy_rows() {
  std::vector<std::vector<int64_t>> rows;
  for (int s = 0; s < 4; ++s) {
    std::vector<int64_t> r = {1};
    for (int j = 0; j < 24 + 3 * s; ++j) r.push_back(5 + (s * 7 + j * (s + 3)) % 20);
    r.push_back(2);
    rows.push_back(r);
  }
  return rows;
}

// Autoregressive or masked batches over toy_rows(), cycling forever, masking from a seeded generator.
class ToySource : public BatchSource {
 public:
  ToySource(bool causal, uint64_t seed) : causal_(causal), rng_(seed) {}
  bool next(TokenBatch& b) override {
    auto rows = toy_rows();
    int64_t longest = 0;
    for (auto& r : rows) longest = std::max<int64_t>(longest, static_cast<int64_t>(r.size()) - (causal_ ? 1 : 0));
    b.tokens = torch::zeros({4, longest}, torch::kLong);
    b.targets = torch::full({4, longest}, -100, torch::kLong);
    b.padding = torch::ones({4, longest}, torch::kBool);
    b.target_count = 0;
    std::uniform_real_distribution<double> unit(0, 1);
    for (int i = 0; i < 4; ++i) {
      const auto& r = rows[i];
      for (size_t j = 0; j + (causal_ ? 1 : 0) < r.size(); ++j) {
        b.padding[i][j] = false;
        b.tokens[i][j] = r[j];
        if (causal_) {
          b.targets[i][j] = r[j + 1];
          ++b.target_count;
        } else if (r[j] >= 5 && unit(rng_) < 0.15) {
          b.targets[i][j] = r[j];
          b.tokens[i][j] = 3;  // <mask>
          ++b.target_count;
        }
      }
    }
    return true;
  }

 private:
  bool causal_;
  std::mt19937_64 rng_;
};

// A finite source: `count` batches, then exhausted (one "epoch").
class CountedSource : public BatchSource {
 public:
  CountedSource(bool causal, uint64_t seed, int count) : toy_(causal, seed), left_(count) {}
  bool next(TokenBatch& b) override { return left_-- > 0 && toy_.next(b); }

 private:
  ToySource toy_;
  int left_;
};

std::string temp(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / "performer-model-tests";
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

std::vector<double> losses_of(Trainer& trainer) {
  std::vector<double> losses;
  trainer.run([&](const TrainEvent& e) {
    if (e.kind == TrainEvent::Kind::step) losses.push_back(e.loss);
  });
  return losses;
}

TrainOptions quick(int64_t steps) {
  TrainOptions o;
  o.learning_rate = 3e-3;
  o.warmup_steps = 5;
  o.max_steps = steps;
  o.eval_every = 0;
  o.checkpoint_every = 0;
  o.log_every = 1;
  return o;
}

}  // namespace

TEST(Model, PresetsAndConfigErrors) {
  EXPECT_EQ(preset_config("paper").layers, 36);
  EXPECT_EQ(preset_config("paper").d_model, 512);
  EXPECT_EQ(preset_config("paper").heads, 8);
  EXPECT_EQ(preset_config("paper").d_ff, 1024);
  ProteinLM small(preset_config("small"));
  EXPECT_NEAR(small->parameter_count() / 1e6, 3.2, 0.15);
  EXPECT_THROW(preset_config("huge"), ConfigError);
  ModelConfig bad = preset_config("tiny");
  bad.heads = 3;  // 64 % 3 != 0
  EXPECT_THROW(ProteinLM{bad}, ConfigError);
  EXPECT_THROW(ModelConfig::from_json("{\"attention\": \"softmax\"}"), ConfigError);
  EXPECT_THROW(ModelConfig::from_json("{\"layers\": \"four\"}"), ConfigError);
  EXPECT_THROW(ModelConfig::from_json("{\"layers\": 4"), ConfigError);
  ModelConfig c = tiny("ar", AttentionKind::favor_softmax);
  c.dropout = 0.25;
  ModelConfig back = ModelConfig::from_json(c.to_json());
  EXPECT_EQ(back.to_json(), c.to_json());
  EXPECT_EQ(back.attention, AttentionKind::favor_softmax);
  EXPECT_TRUE(back.causal());
}

TEST(Model, FeedForwardActivationIsGeluOrSquaredRelu) {
  ModelConfig c = tiny("mlm", AttentionKind::exact);
  EXPECT_EQ(c.activation, Activation::gelu);
  EXPECT_EQ(ModelConfig::from_json("{\"layers\": 2}").activation, Activation::gelu);  // checkpoints before the option
  c.activation = Activation::relu2;
  EXPECT_EQ(ModelConfig::from_json(c.to_json()).activation, Activation::relu2);
  EXPECT_NE(c.to_json().find("\"activation\": \"relu2\""), std::string::npos) << c.to_json();
  torch::manual_seed(3);
  TransformerBlock block(c, 0);
  const at::Tensor x = torch::randn({5, c.d_model});
  // x + W2 max(W1 LN(x) + b1, 0)^2 + b2, computed here without the block's code path.
  const at::Tensor n = at::layer_norm(x, {c.d_model}, block->norm2->weight, block->norm2->bias);
  const at::Tensor pre = at::matmul(n, block->ff_in->weight.t()) + block->ff_in->bias;
  const at::Tensor squared = at::where(pre > 0, pre * pre, torch::zeros_like(pre));
  const at::Tensor expected = x + at::matmul(squared, block->ff_out->weight.t()) + block->ff_out->bias;
  EXPECT_TRUE(torch::allclose(block->feed_forward(x), expected, 1e-5, 1e-5));
  c.activation = Activation::gelu;  // same parameters (same seed), the exact gelu 0.5 p (1 + erf(p / sqrt 2))
  torch::manual_seed(3);
  TransformerBlock gelu_block(c, 0);
  ASSERT_TRUE(torch::equal(gelu_block->ff_in->weight, block->ff_in->weight));
  const at::Tensor gelu = 0.5 * pre * (1 + torch::erf(pre / std::sqrt(2.0)));
  EXPECT_TRUE(torch::allclose(gelu_block->feed_forward(x),
                              x + at::matmul(gelu, block->ff_out->weight.t()) + block->ff_out->bias, 1e-5, 1e-5));
  EXPECT_THROW(parse_name<Activation>("swish", "activation"), ConfigError);
  EXPECT_THROW(ModelConfig::from_json("{\"activation\": \"relu\"}"), ConfigError);
}

TEST(Model, Bf16DenseProductsRoundLikeBf16AndKeepFloatGradients) {
  torch::manual_seed(5);
  torch::nn::Linear layer(48, 24);
  const at::Tensor x = torch::randn({7, 48}).requires_grad_();
  const at::Tensor y = dense(layer, x, at::kBFloat16);
  ASSERT_EQ(y.scalar_type(), at::kBFloat16);
  // Reference: inputs, weight and bias rounded to bf16, the product in double, the result rounded.
  auto bf = [](const at::Tensor& t) { return t.detach().to(at::kBFloat16).to(at::kDouble); };
  const at::Tensor exact = at::matmul(bf(x), bf(layer->weight).t()) + bf(layer->bias);
  const at::Tensor expected = exact.to(at::kBFloat16).to(at::kDouble);
  // One bf16 rounding apart at most (accumulation order): relative 2^-7 of the value.
  EXPECT_LE(((y.to(at::kDouble) - expected).abs() - expected.abs() * std::ldexp(1.0, -7)).max().item<double>(), 1e-6);
  // Not the float product: that one keeps digits bf16 cannot hold.
  const at::Tensor fp32 = dense(layer, x, at::kFloat);
  ASSERT_EQ(fp32.scalar_type(), at::kFloat);
  EXPECT_TRUE(torch::allclose(fp32, layer->forward(x)));
  EXPECT_FALSE(torch::equal(fp32, fp32.to(at::kBFloat16).to(at::kFloat)));
  EXPECT_GT((y.to(at::kFloat) - fp32).abs().max().item<double>(), 0.0);
  // The casts' backward hands float gradients to the float parameters, close to the float ones.
  y.to(at::kFloat).square().sum().backward();
  ASSERT_EQ(layer->weight.grad().scalar_type(), at::kFloat);
  ASSERT_EQ(x.grad().scalar_type(), at::kFloat);
  const at::Tensor gw = layer->weight.grad().clone(), gx = x.grad().clone();
  layer->weight.mutable_grad().zero_();
  x.mutable_grad().zero_();
  fp32.square().sum().backward();
  EXPECT_GT(cosine(gw, layer->weight.grad()), 0.999);
  EXPECT_GT(cosine(gx, x.grad()), 0.999);
}

TEST(Model, Bf16PrecisionModelTracksTheFloatModel) {
  ModelConfig c = tiny("ar", AttentionKind::favor_relu, 0);
  EXPECT_EQ(c.precision, Precision::fp32);
  EXPECT_EQ(ModelConfig::from_json("{\"layers\": 2}").precision, Precision::fp32);  // checkpoints before the option
  c.precision = Precision::bf16;
  EXPECT_EQ(ModelConfig::from_json(c.to_json()).precision, Precision::bf16);
  EXPECT_THROW(ModelConfig::from_json("{\"precision\": \"half\"}"), ConfigError);
  const at::Tensor tokens = torch::randint(5, 25, {2, 40});
  for (AttentionKind kind : {AttentionKind::favor_relu, AttentionKind::favor_softmax, AttentionKind::exact}) {
    for (const std::string objective : {"ar", "mlm"}) {
      ModelConfig f = tiny(objective, kind, 0);
      ModelConfig b = f;
      b.precision = Precision::bf16;
      ProteinLM fm(f), bm(b);  // same seed: same parameters
      const at::Tensor lf = fm->forward(tokens), lb = bm->forward(tokens);
      ASSERT_EQ(lb.scalar_type(), at::kFloat);  // head and loss in float
      const double scale = lf.abs().max().item<double>();
      const double diff = (lf - lb).abs().max().item<double>();
      EXPECT_GT(diff, 0.0) << to_string(kind) << " " << objective;
      EXPECT_LT(diff, 0.03 * scale) << to_string(kind) << " " << objective;
      // Gradients: float, pointing the same way as the float model's.
      fm->loss(tokens, {}, tokens).loss.backward();
      bm->loss(tokens, {}, tokens).loss.backward();
      auto fp = fm->named_parameters(), bp = bm->named_parameters();
      for (const auto& p : fp) {
        const at::Tensor g = bp[p.key()].grad();
        ASSERT_TRUE(g.defined()) << p.key();
        ASSERT_EQ(g.scalar_type(), at::kFloat) << p.key();
        EXPECT_GT(cosine(g, p.value().grad()), 0.99) << to_string(kind) << " " << objective << " " << p.key();
      }
      // Switching a float model to bf16 gives the bf16 model's logits.
      fm->set_precision(Precision::bf16);
      EXPECT_TRUE(torch::equal(fm->forward(tokens), lb)) << to_string(kind) << " " << objective;
      fm->set_precision(Precision::fp32);
      EXPECT_TRUE(torch::equal(fm->forward(tokens), lf));
      EXPECT_THROW(parse_name<Precision>("fp16", "precision"), ConfigError);
    }
  }
}

TEST(Model, RotaryMakesScoresDependOnRelativePositionOnly) {
  at::Tensor q = torch::randn({1, 1, 1, 8}).expand({1, 1, 40, 8}).contiguous();
  at::Tensor k = torch::randn({1, 1, 1, 8}).expand({1, 1, 40, 8}).contiguous();
  at::Tensor scores = at::matmul(apply_rotary(q)[0][0], apply_rotary(k)[0][0].t());  // [40, 40]
  for (int shift : {1, 7, 20}) {
    EXPECT_NEAR(scores[3][10].item<double>(), scores[3 + shift][10 + shift].item<double>(), 1e-4);
  }
  EXPECT_GT(std::abs(scores[3][10].item<double>() - scores[3][30].item<double>()), 1e-4);
}

TEST(Model, ProjectSplitsHeadsLikeViewPermuteAndRotaryInBothDirections) {
  // Reference: the input projection viewed [B, L, 3, H, dh], permuted to 3 x [B, H, L, dh], q and k
  // rotated by apply_rotary, everything differentiated by autograd.
  for (bool rotary : {true, false}) {
    for (bool all_used : {true, false}) {
      torch::manual_seed(3);
      MultiheadAttention mha(MultiheadAttentionOptions(32, 4).rotary(rotary));
      at::Tensor x = torch::randn({2, 9, 32}, torch::requires_grad());
      std::vector<at::Tensor> w = {torch::randn({2, 4, 9, 8}), torch::randn({2, 4, 9, 8}),
                                   torch::randn({2, 4, 9, 8})};
      auto loss_of = [&](const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
        at::Tensor loss = (v * w[2]).sum();  // all_used false: q and k reach no loss (dummy attention)
        return all_used ? loss + (q * w[0]).sum() + (k * w[1]).sum() : loss;
      };
      auto [q, k, v] = mha->project(x);
      loss_of(q, k, v).backward();
      const at::Tensor gx = x.grad().clone(), gw = mha->in_proj->weight.grad().clone();
      x.mutable_grad().zero_();
      mha->in_proj->weight.mutable_grad().zero_();
      auto parts = mha->in_proj->forward(x).view({2, 9, 3, 4, 8}).permute({2, 0, 3, 1, 4}).unbind(0);
      at::Tensor rq = rotary ? apply_rotary(parts[0]) : parts[0];
      at::Tensor rk = rotary ? apply_rotary(parts[1]) : parts[1];
      EXPECT_LT(test::max_abs_diff(q, rq), 1e-6);
      EXPECT_LT(test::max_abs_diff(k, rk), 1e-6);
      EXPECT_TRUE(torch::equal(v, parts[2]));
      EXPECT_TRUE(q.is_contiguous() && k.is_contiguous() && v.is_contiguous());
      loss_of(rq, rk, parts[2]).backward();
      EXPECT_LT(test::max_abs_diff(gx, x.grad()), 1e-5) << rotary << all_used;
      EXPECT_LT(test::max_abs_diff(gw, mha->in_proj->weight.grad()), 1e-5) << rotary << all_used;
      EXPECT_GT(gx.abs().max().item<double>(), 0.1);
    }
  }
}

TEST(Model, CausalLogitsIgnoreLaterTokens) {
  for (AttentionKind kind : {AttentionKind::exact, AttentionKind::favor_softmax, AttentionKind::favor_relu}) {
    ProteinLM model(tiny("ar", kind));
    model->eval();
    at::Tensor a = torch::randint(5, 25, {2, 40}, torch::kLong);
    at::Tensor b = a.clone();
    b.narrow(1, 21, 19).random_(5, 25);
    at::Tensor la = model->forward(a), lb = model->forward(b);
    EXPECT_LT(test::max_abs_diff(la.narrow(1, 0, 21), lb.narrow(1, 0, 21)), 1e-5) << to_string(kind);
    EXPECT_GT(test::max_abs_diff(la, lb), 1e-3) << to_string(kind);
  }
}

TEST(Model, LossOnLabelledRowsMatchesTheFullForward) {
  // mlm batches label ~15% of rows, so loss() runs the last feed-forward and the head on those alone;
  // ar batches label most rows and take the full path, unless most labels are dropped (then the
  // labelled-rows path runs under causal attention). All must give the full forward's loss, counts
  // and gradients.
  for (const std::string objective : {"mlm", "ar", "ar-sparse"}) {
    SCOPED_TRACE(objective);
    for (AttentionKind kind : {AttentionKind::exact, AttentionKind::favor_relu}) {
      ProteinLM model(tiny(objective == "mlm" ? "mlm" : "ar", kind));
      model->train();
      ToySource source(objective != "mlm", 3);
      TokenBatch b;
      source.next(b);
      b.targets[1][5] = 7;  // a label on a row that is not masked: still a row to keep
      if (objective == "ar-sparse") {
        b.targets.masked_fill_(torch::arange(b.targets.size(1)).remainder(4).ne(1).unsqueeze(0), -100);
        ASSERT_LT(2 * (b.targets != -100).sum().item<int64_t>(), b.targets.numel());
      }
      auto grads = [&](const LossResult& r) {
        model->zero_grad();
        r.loss.backward();
        std::vector<at::Tensor> g;
        for (const auto& p : model->parameters()) g.push_back(p.grad().clone());
        return g;
      };
      const LossResult full = language_model_loss(model->forward(b.tokens, b.padding), b.targets);
      const std::vector<at::Tensor> g_full = grads(full);
      const LossResult part = model->loss(b.tokens, b.padding, b.targets);
      const std::vector<at::Tensor> g_part = grads(part);
      EXPECT_NEAR(part.loss.item<double>(), full.loss.item<double>(), 1e-5) << to_string(kind);
      EXPECT_EQ(part.targets, full.targets);
      EXPECT_EQ(part.correct, full.correct);
      ASSERT_EQ(g_part.size(), g_full.size());
      double largest = 0;
      for (size_t i = 0; i < g_full.size(); ++i) {
        EXPECT_LT(test::max_abs_diff(g_part[i], g_full[i]), 1e-5) << to_string(kind) << " parameter " << i;
        largest = std::max(largest, g_full[i].abs().max().item<double>());
      }
      EXPECT_GT(largest, 1e-3);  // the gradients compared are not all zero
    }
  }
}

TEST(Model, KeptAndRecomputedFeaturesGiveTheSameGradients) {
  // set_keep_features reaches every block: the kept run holds 2 x [B H, L, m] floats per layer more
  // until the backward, and both give the same loss and gradients (padded batch, mlm and ar).
  tools::TensorMemory::install();
  for (const std::string objective : {"mlm", "ar"}) {
    SCOPED_TRACE(objective);
    const ModelConfig config = tiny(objective, AttentionKind::favor_softmax);
    ProteinLM model(config);
    model->train();
    ToySource source(objective == "ar", 3);
    TokenBatch b;
    source.next(b);
    auto run = [&](bool keep, int64_t& held) {
      model->set_keep_features(keep);
      model->zero_grad();
      const int64_t before = tools::TensorMemory::current_bytes();
      const LossResult r = model->loss(b.tokens, b.padding, b.targets);
      held = tools::TensorMemory::current_bytes() - before;
      r.loss.backward();
      std::vector<at::Tensor> g = {r.loss.detach()};
      for (const auto& p : model->parameters()) g.push_back(p.grad().clone());
      return g;
    };
    int64_t held_kept = 0, held_recomputed = 0;
    const std::vector<at::Tensor> kept = run(true, held_kept), recomputed = run(false, held_recomputed);
    const double features = 2.0 * config.layers * b.tokens.size(0) * config.heads * b.tokens.size(1) *
                            config.features * 4;
    EXPECT_NEAR(static_cast<double>(held_kept - held_recomputed), features, 0.05 * features);
    ASSERT_EQ(kept.size(), recomputed.size());
    for (size_t i = 0; i < kept.size(); ++i) {
      EXPECT_LT(test::max_abs_diff(kept[i], recomputed[i]), 1e-5) << (i == 0 ? "loss" : "parameter") << " " << i;
    }
  }
}

TEST(Model, OverfitsAHandfulOfSequences) {
  for (const char* objective : {"ar", "mlm"}) {
    // No redraws here: redrawing every few steps keeps a tiny favor MLM from memorising (it fits with
    // exact attention, or with a fixed projection); the resume test covers redraws.
    const bool causal = std::string(objective) == "ar";
    ProteinLM model(tiny(objective, causal ? AttentionKind::favor_relu : AttentionKind::favor_softmax, 0));
    Trainer trainer(model, quick(causal ? 150 : 400),
                    [&](int64_t) { return std::make_unique<ToySource>(causal, 1); }, nullptr);
    auto losses = losses_of(trainer);
    // Unigram entropy of 20 roughly uniform residues is ln(20) = 3.0 nats.
    EXPECT_GT(losses.front(), 2.5) << objective;
    EXPECT_LT(losses.back(), causal ? 1.0 : 1.5) << objective << ": " << losses.back();
  }
}

TEST(Model, ResumedRunGivesTheSameLossesAsAnUninterruptedOne) {
  for (const char* optimizer : {"adamw", "muon"}) {
    const std::string path = temp(std::string("resume-") + optimizer + ".pt");
    auto factory = [](int64_t epoch) { return std::make_unique<CountedSource>(false, 10 + epoch, 7); };
    auto options = [&](int64_t stop_at, const std::string& checkpoint) {
      TrainOptions o = quick(20);
      o.optimizer = parse_name<OptimizerKind>(optimizer, "optimizer");
      o.stop_at_step = stop_at;
      o.checkpoint = checkpoint;
      return o;
    };
    // 20 steps cross two epoch boundaries (7 batches an epoch) and projection redraws (every 5 steps).
    ProteinLM straight_model(tiny("mlm", AttentionKind::favor_softmax));
    Trainer straight(straight_model, options(0, ""), factory, nullptr);
    const auto expected = losses_of(straight);
    ASSERT_EQ(expected.size(), 20u);

    ProteinLM m1(tiny("mlm", AttentionKind::favor_softmax));
    Trainer part1(m1, options(12, path), factory, nullptr);
    auto got = losses_of(part1);
    ASSERT_EQ(got.size(), 12u);

    ProteinLM m2(load_checkpoint(path).config);  // fresh weights: all state must come from the file
    Trainer part2(m2, options(0, path), factory, nullptr);
    part2.resume(path);
    EXPECT_EQ(part2.state().step, 12);
    auto rest = losses_of(part2);
    got.insert(got.end(), rest.begin(), rest.end());
    ASSERT_EQ(got.size(), 20u);
    for (size_t i = 0; i < 20; ++i) EXPECT_NEAR(got[i], expected[i], 1e-5) << optimizer << ", step " << i + 1;

    // The other optimiser cannot continue this run.
    ProteinLM m3(load_checkpoint(path).config);
    TrainOptions other = options(0, "");
    other.optimizer = std::string(optimizer) == "muon" ? OptimizerKind::adamw : OptimizerKind::muon;
    Trainer wrong(m3, other, factory, nullptr);
    EXPECT_THROW(wrong.resume(path), InputError) << optimizer;
  }
}

TEST(Model, CheckpointRoundTripGivesTheSameLogits) {
  const std::string path = temp("roundtrip.pt");
  ProteinLM model(tiny("mlm", AttentionKind::favor_relu));
  model->train();
  model->forward(torch::randint(5, 25, {1, 10}, torch::kLong));  // training calls are state too
  save_checkpoint(path, model, TrainState{}, nullptr);
  Checkpoint back = load_checkpoint(path, "performer-protein-v1");
  model->eval();
  back.model->eval();
  at::Tensor tokens = torch::randint(5, 25, {2, 30}, torch::kLong);
  EXPECT_TRUE(model->forward(tokens).equal(back.model->forward(tokens)));
  EXPECT_EQ(back.config.to_json(), model->config.to_json());
  EXPECT_THROW(load_checkpoint(path, "another-vocabulary-v9"), ConfigError);
  EXPECT_THROW(load_checkpoint(temp("missing.pt")), InputError);
  std::ofstream(temp("junk.pt")) << "not a checkpoint";
  EXPECT_THROW(load_checkpoint(temp("junk.pt")), InputError);
  // Weights that are not numbers (a diverged run) are refused at load, naming the parameter.
  for (double bad : {std::nan(""), std::numeric_limits<double>::infinity()}) {
    {
      torch::NoGradGuard no_grad;
      model->blocks[1]->as<TransformerBlock>()->ff_out->weight[3][7] = bad;
    }
    save_checkpoint(temp("nan.pt"), model, TrainState{}, nullptr);
    try {
      load_checkpoint(temp("nan.pt"));
      ADD_FAILURE() << "weights " << bad << " were accepted";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("not finite numbers (NaN or infinity) in blocks.1.ff_out.weight"),
                std::string::npos)
          << e.what();
    }
  }
}

TEST(Model, SwitchingAttentionKeepsTheParametersAndApproximatesExact) {
  ModelConfig c = tiny("mlm", AttentionKind::exact);
  c.features = 256;
  ProteinLM model(c);
  model->eval();
  at::Tensor tokens = torch::randint(5, 25, {2, 50}, torch::kLong);
  at::Tensor exact = model->forward(tokens);
  model->set_attention(AttentionKind::favor_softmax);
  at::Tensor favor = model->forward(tokens);
  const double rel = ((favor - exact).norm() / exact.norm()).item<double>();
  EXPECT_LT(rel, 0.15);  // m = 256 features for 16-dimensional heads
  EXPECT_GT(rel, 0.0);
  EXPECT_EQ(model->config.attention, AttentionKind::favor_softmax);
}

TEST(Model, NonFiniteLossStopsWithAClearErrorAndKeepsTheCheckpoint) {
  const std::string path = temp("nan.pt");
  ProteinLM model(tiny("ar", AttentionKind::favor_relu));
  TrainOptions o = quick(10);
  o.checkpoint = path;
  o.checkpoint_every = 2;
  Trainer trainer(model, o, [](int64_t) { return std::make_unique<ToySource>(true, 1); }, nullptr);
  try {
    trainer.run([&](const TrainEvent& e) {
      // After the step-2 checkpoint, poison a weight: step 3's loss is nan.
      if (e.kind == TrainEvent::Kind::checkpoint && e.step == 2) {
        torch::NoGradGuard no_grad;
        model->blocks[0]->as<TransformerBlock>()->ff_in->weight.fill_(NAN);
      }
    });
    FAIL() << "no error";
  } catch (const TrainingError& e) {
    EXPECT_NE(std::string(e.what()).find("at step 3"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("was left as it was"), std::string::npos) << e.what();
  }
  Checkpoint last = load_checkpoint(path);  // the step-2 checkpoint, intact
  EXPECT_EQ(last.state.step, 2);
  for (const auto& p : last.model->parameters()) EXPECT_TRUE(torch::isfinite(p).all().item<bool>());
}

TEST(Model, LearningRateWarmsUpThenDecaysToZero) {
  TrainOptions o;
  o.learning_rate = 1.0;
  o.warmup_steps = 10;
  o.max_steps = 110;
  EXPECT_NEAR(learning_rate_at(o, 0), 0.1, 1e-12);
  EXPECT_NEAR(learning_rate_at(o, 9), 1.0, 1e-12);
  EXPECT_NEAR(learning_rate_at(o, 10), 1.0, 1e-12);
  EXPECT_NEAR(learning_rate_at(o, 60), 0.5, 1e-12);
  EXPECT_NEAR(learning_rate_at(o, 110), 0.0, 1e-12);
}

TEST(Model, ScheduleByTimeDecaysOverTheTimeLimit) {
  TrainOptions o;
  o.learning_rate = 1.0;
  o.warmup_steps = 10;
  o.max_steps = 1010;
  o.max_seconds = 100;
  const double pi = std::acos(-1.0);
  EXPECT_NEAR(learning_rate_at(o, 60, 50), 0.5 * (1 + std::cos(pi * 0.05)), 1e-12);  // by steps: 50 of 1000
  o.schedule_by_time = true;
  EXPECT_NEAR(learning_rate_at(o, 4, 50), 0.5, 1e-12);           // warm-up is counted in steps
  EXPECT_NEAR(learning_rate_at(o, 60, 50), 0.5, 1e-12);          // half the time: cos(pi / 2)
  EXPECT_NEAR(learning_rate_at(o, 60, 25), 0.5 * (1 + std::sqrt(0.5)), 1e-12);
  EXPECT_NEAR(learning_rate_at(o, 60, 100), 0.0, 1e-12);
  EXPECT_NEAR(learning_rate_at(o, 60, 250), 0.0, 1e-12);         // past the limit it stays at 0
  EXPECT_NEAR(learning_rate_at(o, 510, 10), 0.5, 1e-12);         // the steps ahead of the clock lead
  o.max_seconds = 0;
  ProteinLM model(tiny("mlm", AttentionKind::favor_relu));
  EXPECT_THROW(Trainer(model, o, [](int64_t) { return std::make_unique<ToySource>(false, 1); }, nullptr),
               ConfigError);
}

TEST(Model, ScheduleByTimeEndsAtZeroAndCountsTheTimeBeforeAResume) {
  const std::string path = temp("by-time.pt");
  TrainOptions o = quick(1000000);
  o.schedule_by_time = true;
  o.max_seconds = 3;
  o.checkpoint = path;
  ProteinLM model(tiny("mlm", AttentionKind::favor_relu));
  Trainer trainer(model, o, [](int64_t) { return std::make_unique<ToySource>(false, 1); }, nullptr);
  double first_lr = -1, last_lr = -1;
  trainer.run([&](const TrainEvent& e) {
    if (e.kind != TrainEvent::Kind::step) return;
    if (first_lr < 0 && e.step > o.warmup_steps) first_lr = e.learning_rate;
    last_lr = e.learning_rate;
  });
  const TrainState done = trainer.state();
  EXPECT_GT(done.step, o.warmup_steps + 5);   // stopped by the clock, not the steps
  EXPECT_LT(done.step, o.max_steps);
  EXPECT_GE(done.seconds, o.max_seconds);
  EXPECT_GT(first_lr, 0.9 * o.learning_rate);
  EXPECT_LT(last_lr, 0.02 * o.learning_rate);  // the cosine ended with the time, one step's time aside

  // A resumed run has already spent its time: no step more.
  ProteinLM again(load_checkpoint(path).config);
  Trainer resumed(again, o, [](int64_t) { return std::make_unique<ToySource>(false, 1); }, nullptr);
  resumed.resume(path);
  int steps = 0;
  resumed.run([&](const TrainEvent& e) { steps += e.kind == TrainEvent::Kind::step; });
  EXPECT_EQ(steps, 0);
  EXPECT_EQ(resumed.state().step, done.step);
}

TEST(Muon, OrthogonalizeApproximatesThePolarFactor) {
  torch::manual_seed(3);
  for (auto shape : std::vector<std::vector<int64_t>>{{24, 64}, {64, 24}, {3, 16, 16}}) {
    const at::Tensor g = torch::randn(shape, torch::kDouble);
    const at::Tensor o = orthogonalize(g);
    ASSERT_EQ(o.sizes(), g.sizes());
    EXPECT_EQ(o.scalar_type(), torch::kDouble);
    // Independent reference: U V^T from the SVD.
    auto [u, sv, vh] = at::linalg_svd(g, /*full_matrices=*/false);
    const at::Tensor polar = at::matmul(u, vh);
    EXPECT_GT(cosine(o, polar), 0.97) << g.sizes();
    const at::Tensor s = at::linalg_svdvals(o);
    EXPECT_GT(s.min().item<double>(), 0.6) << g.sizes();
    EXPECT_LT(s.max().item<double>(), 1.25) << g.sizes();
  }
  // Scale does not matter: the first step divides by the norm.
  const at::Tensor g = torch::randn({8, 12});
  EXPECT_TRUE(torch::allclose(orthogonalize(g), orthogonalize(1000 * g), 1e-4, 1e-5));
}

TEST(Muon, OrthogonalizeInBf16StaysNearThePolarFactor) {
  torch::manual_seed(6);
  const at::Tensor g = torch::randn({3, 32, 96});
  const at::Tensor o = orthogonalize(g, 5, at::kBFloat16);
  ASSERT_EQ(o.scalar_type(), at::kFloat);
  auto [u, sv, vh] = at::linalg_svd(g, /*full_matrices=*/false);
  EXPECT_GT(cosine(o, at::matmul(u, vh)), 0.95);
  const at::Tensor s = at::linalg_svdvals(o);
  EXPECT_GT(s.min().item<double>(), 0.5);
  EXPECT_LT(s.max().item<double>(), 1.3);
  // bf16 products: not the float iteration's result, but close to it.
  const at::Tensor f = orthogonalize(g);
  EXPECT_FALSE(torch::equal(o, f));
  EXPECT_GT(cosine(o, f), 0.99);
}

TEST(Muon, StepsAreOrthogonalisedNesterovMomentumAndAdamWForTheRest) {
  torch::manual_seed(4);
  at::Tensor w = torch::randn({6, 4}).requires_grad_();  // three blocks of [2, 4]
  at::Tensor v = torch::randn({5}).requires_grad_();     // AdamW half
  const at::Tensor w0 = w.detach().clone(), v0 = v.detach().clone();
  MuonOptions o;
  o.learning_rate = 0.1;
  o.weight_decay = 0.01;
  o.momentum = 0.9;
  Muon muon({{w, 3}}, {v}, o);
  const at::Tensor g1 = torch::randn({6, 4}), g2 = torch::randn({6, 4}), h1 = torch::randn({5});
  w.mutable_grad() = g1.clone();
  v.mutable_grad() = h1.clone();
  muon.step();
  // Muon: blocks orthogonalised separately, update RMS 0.2 * sqrt(4) per unit rate, decoupled decay.
  auto expected_update = [](const at::Tensor& d) { return orthogonalize(d.view({3, 2, 4})).view({6, 4}) * 0.2 * 2.0; };
  const at::Tensor d1 = g1 + 0.9 * g1;  // Nesterov on an empty buffer
  const at::Tensor w1 = w0 * (1 - 0.1 * 0.01) - 0.1 * expected_update(d1);
  EXPECT_TRUE(torch::allclose(w.detach(), w1, 1e-5, 1e-6));
  // AdamW's first step moves each entry by lr * sign(gradient) (bias-corrected moments), after decay.
  EXPECT_TRUE(torch::allclose(v.detach(), v0 * (1 - 0.1 * 0.01) - 0.1 * h1.sign(), 1e-4, 1e-5));
  // Second step: buffer = 0.9 g1 + g2, direction g2 + 0.9 buffer; the rate is the group's, as for AdamW.
  static_cast<torch::optim::AdamWOptions&>(muon.param_groups().front().options()).lr(0.05);
  w.mutable_grad() = g2.clone();
  v.mutable_grad() = torch::zeros({5});
  muon.step();
  const at::Tensor d2 = g2 + 0.9 * (0.9 * g1 + g2);
  const at::Tensor w2 = w1 * (1 - 0.05 * 0.01) - 0.05 * expected_update(d2);
  EXPECT_TRUE(torch::allclose(w.detach(), w2, 1e-5, 1e-6));
  // Blocks are orthogonalised separately: each [2, 4] block of the update has orthonormal-ish rows.
  const at::Tensor block = expected_update(d2).view({3, 2, 4})[1] / 0.4;
  const at::Tensor gram = at::matmul(block, block.t());
  EXPECT_LT((gram - torch::eye(2)).abs().max().item<double>(), 0.5);
  EXPECT_THROW(Muon({{torch::randn({5, 4}), 3}}, {}, o), ConfigError);  // 5 rows into 3 blocks
}

TEST(Muon, SameShapedBlocksShareABatchAndEachGetsItsOwnUpdate) {
  // A fused [12, 4] (three [4, 4] blocks), a [4, 4], a tall [8, 4] and a wide [4, 8] (whose
  // transposes share a shape), and one without a gradient: every update as if orthogonalised alone.
  torch::manual_seed(5);
  std::vector<at::Tensor> ws = {torch::randn({12, 4}), torch::randn({4, 4}), torch::randn({8, 4}),
                                torch::randn({4, 8}), torch::randn({4, 4})};
  const std::vector<int64_t> blocks = {3, 1, 1, 1, 1};
  std::vector<MuonMatrix> matrices;
  std::vector<at::Tensor> before;
  for (size_t i = 0; i < ws.size(); ++i) {
    ws[i].requires_grad_();
    before.push_back(ws[i].detach().clone());
    matrices.push_back({ws[i], blocks[i]});
  }
  MuonOptions o;
  o.learning_rate = 0.1;
  o.weight_decay = 0.0;
  o.momentum = 0.0;
  Muon muon(matrices, {}, o);
  std::vector<at::Tensor> grads;
  for (size_t i = 0; i + 1 < ws.size(); ++i) {
    grads.push_back(torch::randn(ws[i].sizes()));
    ws[i].mutable_grad() = grads.back().clone();
  }
  muon.step();
  for (size_t i = 0; i + 1 < ws.size(); ++i) {
    const int64_t rows = ws[i].size(0) / blocks[i], cols = ws[i].size(1);
    const at::Tensor update = orthogonalize(grads[i].view({blocks[i], rows, cols})).reshape(ws[i].sizes());
    const at::Tensor expected = before[i] - 0.1 * 0.2 * std::sqrt(double(std::max(rows, cols))) * update;
    EXPECT_TRUE(torch::allclose(ws[i].detach(), expected, 1e-5, 1e-6)) << i;
    EXPECT_FALSE(torch::equal(ws[i].detach(), before[i])) << i;
  }
  EXPECT_TRUE(torch::equal(ws.back().detach(), before.back()));  // no gradient: untouched
}

TEST(Muon, TrainsAModelAndRejectsUnknownOptimisers) {
  ProteinLM model(tiny("ar", AttentionKind::favor_relu, 0));
  TrainOptions o = quick(150);
  o.optimizer = OptimizerKind::muon;
  o.learning_rate = 1e-2;
  Trainer trainer(model, o, [](int64_t) { return std::make_unique<ToySource>(true, 1); }, nullptr);
  auto losses = losses_of(trainer);
  EXPECT_GT(losses.front(), 2.5);
  EXPECT_LT(losses.back(), 1.0) << losses.back();
  EXPECT_THROW(parse_name<OptimizerKind>("sgd", "optimizer"), ConfigError);
  EXPECT_EQ(all_names<OptimizerKind>(), (std::vector<std::string>{"adamw", "muon"}));
}
