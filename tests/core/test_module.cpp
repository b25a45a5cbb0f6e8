#include <gtest/gtest.h>
#include <torch/torch.h>

#include <sstream>

#include "core/errors.h"
#include "core/multihead_attention.h"
#include "tests/core/reference.h"

using namespace performer;
using namespace performer::core;

namespace {

MultiheadAttention make(AttentionKind kind, int64_t interval = 3, uint64_t seed = 9, bool causal = false) {
  torch::manual_seed(0);  // same Linear initialisation for every module made here
  return MultiheadAttention(MultiheadAttentionOptions(32, 4)
                                .kind(kind)
                                .causal(causal)
                                .features(64)
                                .redraw_interval(interval)
                                .seed(seed));
}

}  // namespace

TEST(Module, SameSeedSameProjectionOtherSeedOther) {
  EXPECT_TRUE(make(AttentionKind::favor_softmax)->projection.equal(make(AttentionKind::favor_softmax)->projection));
  EXPECT_FALSE(make(AttentionKind::favor_softmax, 3, 9)->projection.equal(
      make(AttentionKind::favor_softmax, 3, 10)->projection));
  EXPECT_EQ(make(AttentionKind::favor_softmax)->projection.sizes(), (std::vector<int64_t>{64, 8}));
}

TEST(Module, RedrawsAtTheFirstCallOfEachIntervalInTrainingAndNeverInEval) {
  auto mha = make(AttentionKind::favor_softmax, 3);
  at::Tensor x = torch::randn({2, 5, 32});
  std::vector<at::Tensor> seen = {mha->projection.clone()};
  mha->train();
  for (int call = 1; call <= 7; ++call) {
    mha->forward(x);
    const bool due = call > 1 && (call - 1) % 3 == 0;  // calls 1-3 one projection, 4-6 the next, ...
    EXPECT_EQ(!mha->projection.equal(seen.back()), due) << "call " << call;
    if (due) seen.push_back(mha->projection.clone());
  }
  EXPECT_EQ(mha->draws(), 3);  // initial + calls 4 and 7
  // Draw n is a function of (seed, n): a fresh module redrawn twice lands on the same matrix.
  auto other = make(AttentionKind::favor_softmax, 3);
  other->redraw();
  other->redraw();
  EXPECT_TRUE(other->projection.equal(mha->projection));

  mha->eval();
  const at::Tensor before = mha->projection.clone();
  const int64_t calls = mha->training_calls.item<int64_t>();
  for (int i = 0; i < 10; ++i) mha->forward(x);
  EXPECT_TRUE(mha->projection.equal(before));
  EXPECT_EQ(mha->training_calls.item<int64_t>(), calls);
}

TEST(Module, ForwardIsProjectionsAroundTheAttentionCall) {
  for (AttentionKind kind : {AttentionKind::exact, AttentionKind::favor_relu}) {
    auto mha = make(kind, 0, 9, true);
    mha->eval();
    at::Tensor x = torch::randn({2, 6, 32});
    at::Tensor mask = torch::zeros({2, 6}, torch::kBool);
    mask[0][5] = true;
    // By hand: q, k, v from the packed projection, heads of 8, attention, heads merged, output layer.
    at::Tensor qkv = at::linear(x, mha->in_proj->weight, mha->in_proj->bias);  // [2, 6, 96]
    auto heads = [](const at::Tensor& t) { return t.view({2, 6, 4, 8}).transpose(1, 2); };
    AttentionOptions o;
    o.kind = kind;
    o.causal = true;
    o.projection = mha->projection;
    at::Tensor att = attention(heads(qkv.narrow(2, 0, 32)), heads(qkv.narrow(2, 32, 32)),
                               heads(qkv.narrow(2, 64, 32)), o, mask);
    at::Tensor expected =
        at::linear(att.transpose(1, 2).reshape({2, 6, 32}), mha->out_proj->weight, mha->out_proj->bias);
    EXPECT_LT(test::max_abs_diff(mha->forward(x, mask), expected), 1e-5) << to_string(kind);
  }
}

TEST(Module, SwitchingKindKeepsParametersAndApproximatesExact) {
  auto mha = make(AttentionKind::exact, 0);
  mha->eval();
  at::Tensor x = torch::randn({1, 64, 32}) * 0.3;
  at::Tensor exact = mha->forward(x);
  const size_t params = mha->parameters().size();
  mha->set_kind(AttentionKind::favor_softmax);
  EXPECT_EQ(mha->parameters().size(), params);
  at::Tensor approx = mha->forward(x);
  const double rel = ((approx - exact).norm() / exact.norm()).item<double>();
  EXPECT_LT(rel, 0.25);
  EXPECT_GT(rel, 0.0);
}

TEST(Module, ProjectionBufferIsSavedAndLoaded) {
  auto a = make(AttentionKind::favor_softmax, 2, 1);
  a->train();
  at::Tensor x = torch::randn({1, 4, 32});
  a->forward(x);
  a->forward(x);
  a->forward(x);  // redrawn once, at the first call of the second interval
  std::stringstream stream;
  {
    torch::serialize::OutputArchive archive;
    a->save(archive);
    archive.save_to(stream);
  }
  auto b = make(AttentionKind::favor_softmax, 2, 1);
  torch::serialize::InputArchive archive;
  archive.load_from(stream);
  b->load(archive);
  EXPECT_TRUE(b->projection.equal(a->projection));
  EXPECT_EQ(b->draws(), 2);
  a->eval();
  b->eval();
  EXPECT_TRUE(a->forward(x).equal(b->forward(x)));
}

TEST(Module, BadConfigurationsAreConfigErrors) {
  EXPECT_THROW(MultiheadAttention(MultiheadAttentionOptions(30, 4)), ConfigError);  // 30 % 4 != 0
  EXPECT_THROW(MultiheadAttention(MultiheadAttentionOptions(32, 4).features(0)), ConfigError);
  auto mha = make(AttentionKind::exact);
  EXPECT_THROW(mha->forward(torch::randn({2, 5, 16})), ConfigError);  // wrong width
}

// With gradient accumulation the trainer counts steps x accumulation calls per projection: the micro-
// batches of one optimiser step (calls 2s-1 and 2s for accumulation 2) always share a projection.
TEST(Module, MicroBatchesOfOneOptimiserStepShareAProjection) {
  const int64_t steps_per_draw = 2, accumulation = 2;
  auto mha = make(AttentionKind::favor_softmax, steps_per_draw * accumulation);
  at::Tensor x = torch::randn({1, 4, 32});
  mha->train();
  at::Tensor previous;
  for (int call = 1; call <= 12; ++call) {
    mha->forward(x);
    const bool first_micro_batch = (call - 1) % accumulation == 0;
    if (!first_micro_batch) {
      EXPECT_TRUE(mha->projection.equal(previous)) << "call " << call;
    }
    previous = mha->projection.clone();
  }
  EXPECT_EQ(mha->draws(), 3);  // steps 1-2, 3-4, 5-6
}

TEST(Module, IdentityProjectionOnlyForTheReluKernel) {
  for (AttentionKind kind : {AttentionKind::favor_softmax, AttentionKind::favor_trig}) {
    EXPECT_THROW(MultiheadAttention(MultiheadAttentionOptions(32, 4).kind(kind).projection(ProjectionKind::identity)),
                 ConfigError)
        << to_string(kind);
  }
  auto relu = MultiheadAttention(
      MultiheadAttentionOptions(32, 4).kind(AttentionKind::favor_relu).projection(ProjectionKind::identity));
  EXPECT_THROW(relu->set_kind(AttentionKind::favor_softmax), ConfigError);
  EXPECT_EQ(relu->options.kind(), AttentionKind::favor_relu);  // unchanged by the refused switch
  EXPECT_NO_THROW(relu->set_kind(AttentionKind::exact));
}
