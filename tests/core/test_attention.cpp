#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/attention.h"
#include "tools/bench_attention.h"
#include "core/errors.h"
#include "core/favor.h"
#include "tools/memory.h"
#include "tests/core/reference.h"

using namespace performer;
using namespace performer::core;
using namespace performer::tools;  // the approximation study
using test::max_abs_diff;

namespace {

at::Tensor randn(std::vector<int64_t> shape, uint64_t seed, double scale = 1.0) {
  auto gen = at::detail::createCPUGenerator(seed);
  return at::randn(shape, gen, at::kFloat) * scale;
}

AttentionOptions favor_options(AttentionKind kind, bool causal, int64_t m, int64_t d, uint64_t seed = 3) {
  AttentionOptions o;
  o.kind = kind;
  o.causal = causal;
  o.projection = test::projection(m, d, seed);
  return o;
}

const AttentionKind kFavorKinds[] = {AttentionKind::favor_softmax, AttentionKind::favor_relu,
                                     AttentionKind::favor_trig};

}  // namespace

TEST(Attention, ExactMatchesHandComputedSoftmax) {
  // One head, two queries, three keys, d = 1: scores are q*k (sqrt(1) = 1).
  at::Tensor q = at::tensor({1.0f, -2.0f}).view({1, 1, 2, 1});
  at::Tensor k = at::tensor({0.5f, 1.0f, -1.0f}).view({1, 1, 3, 1});
  at::Tensor v = at::tensor({1.0f, 10.0f, 100.0f}).view({1, 1, 3, 1});
  AttentionOptions o;
  at::Tensor out = attention(q, k, v, o);
  auto expect = [](double q) {
    double w0 = std::exp(q * 0.5), w1 = std::exp(q * 1.0), w2 = std::exp(-q);
    return (w0 * 1 + w1 * 10 + w2 * 100) / (w0 + w1 + w2);
  };
  EXPECT_NEAR(out[0][0][0][0].item<double>(), expect(1.0), 1e-4);
  EXPECT_NEAR(out[0][0][1][0].item<double>(), expect(-2.0), 1e-4);
  o.causal = true;
  at::Tensor causal = attention(q, k.narrow(2, 0, 2), v.narrow(2, 0, 2), o);
  EXPECT_NEAR(causal[0][0][0][0].item<double>(), 1.0, 1e-6);  // only key 0 visible
}

TEST(Attention, DummyReturnsValues) {
  at::Tensor v = randn({1, 2, 5, 3}, 1);
  AttentionOptions o;
  o.kind = AttentionKind::dummy;
  EXPECT_TRUE(attention(randn({1, 2, 5, 3}, 2), randn({1, 2, 5, 3}, 3), v, o).equal(v));
}

TEST(Attention, FavorKindsMatchTheirOwnKernelComputedByBruteForce) {
  const int64_t d = 16;
  at::Tensor q = randn({2, 3, 37, d}, 10), k = randn({2, 3, 37, d}, 11), v = randn({2, 3, 37, 8}, 12);
  for (AttentionKind kind : kFavorKinds) {
    if (kind == AttentionKind::favor_trig) {
      // Trig estimates can put a normaliser near zero, where float32 rounding is amplified without
      // bound; compare that kind in double, which the core then computes in.
      q = q.to(at::kDouble), k = k.to(at::kDouble), v = v.to(at::kDouble);
    }
    for (bool causal : {false, true}) {
      AttentionOptions o = favor_options(kind, causal, 40, d);
      o.causal_chunk_size = 8;  // 37 = 4 * 8 + 5: the last chunk is partial
      o.block_rows = 16;        // several blocks: the state carried between blocks is exercised
      at::Tensor ref = test::reference_attention(q, k, v, o);
      EXPECT_LT(max_abs_diff(attention(q, k, v, o), ref), 1e-5)
          << to_string(kind) << (causal ? " causal" : " bidirectional");
      o.block_rows = 0;  // one block
      EXPECT_LT(max_abs_diff(attention(q, k, v, o), ref), 1e-5) << to_string(kind) << " one block";
    }
  }
}

TEST(Attention, CausalChunkSizesThatDoAndDoNotDivideLength) {
  const int64_t d = 8, l = 48;
  at::Tensor q = randn({1, 2, l, d}, 20), k = randn({1, 2, l, d}, 21), v = randn({1, 2, l, 4}, 22);
  AttentionOptions o = favor_options(AttentionKind::favor_softmax, true, 32, d);
  at::Tensor ref = test::reference_attention(q, k, v, o);
  for (int64_t chunk : {1, 5, 16, 48, 64}) {
    for (int64_t block : {0, 7, 20}) {
      o.causal_chunk_size = chunk;
      o.block_rows = block;
      EXPECT_LT(max_abs_diff(attention(q, k, v, o), ref), 1e-5) << "chunk " << chunk << " block " << block;
    }
  }
}

TEST(Attention, CausalChunksAreFittedToTheLength) {
  // As many chunks as C gives, as short as multiples of 8 allow: hand-computed.
  EXPECT_EQ(core::favor::fitted_chunk(128, 512), 128);   // 4 full chunks
  EXPECT_EQ(core::favor::fitted_chunk(128, 133), 72);    // 2 chunks of 72 (144 rows), not 2 of 128 (256)
  EXPECT_EQ(core::favor::fitted_chunk(128, 100), 104);   // 1 chunk
  EXPECT_EQ(core::favor::fitted_chunk(128, 300), 104);   // 3 chunks of 100, rounded up to 104
  EXPECT_EQ(core::favor::fitted_chunk(128, 8000), 128);  // 63 chunks of 127 -> 128
  EXPECT_EQ(core::favor::fitted_chunk(5, 48), 5);        // never above C
  EXPECT_EQ(core::favor::fitted_chunk(128, 1), 8);
  // A length just above a chunk gives the unchunked result (chunk 1 is the plain prefix sum).
  const int64_t d = 8, l = 133;
  at::Tensor q = randn({1, 2, l, d}, 23), k = randn({1, 2, l, d}, 24), v = randn({1, 2, l, 4}, 25);
  AttentionOptions o = favor_options(AttentionKind::favor_relu, true, 32, d);
  o.causal_chunk_size = 1;
  at::Tensor ref = attention(q, k, v, o);
  o.causal_chunk_size = 128;
  EXPECT_LT(max_abs_diff(attention(q, k, v, o), ref), 1e-5);
}

TEST(Attention, CausalOutputIgnoresLaterTokens) {
  const int64_t d = 16, l = 64, cut = 29;
  at::Tensor q = randn({1, 2, l, d}, 30), k = randn({1, 2, l, d}, 31), v = randn({1, 2, l, d}, 32);
  at::Tensor q2 = q.clone(), k2 = k.clone(), v2 = v.clone();
  // Change every token after `cut`, and make the later keys large so they would move any maximum.
  q2.narrow(2, cut + 1, l - cut - 1).copy_(randn({1, 2, l - cut - 1, d}, 33, 3.0));
  k2.narrow(2, cut + 1, l - cut - 1).copy_(randn({1, 2, l - cut - 1, d}, 34, 3.0));
  v2.narrow(2, cut + 1, l - cut - 1).copy_(randn({1, 2, l - cut - 1, d}, 35));
  for (AttentionKind kind : {AttentionKind::exact, AttentionKind::favor_softmax, AttentionKind::favor_relu,
                             AttentionKind::favor_trig}) {
    AttentionOptions o = favor_options(kind, true, 64, d);
    o.causal_chunk_size = 16;
    at::Tensor a = attention(q, k, v, o).narrow(2, 0, cut + 1);
    at::Tensor b = attention(q2, k2, v2, o).narrow(2, 0, cut + 1);
    EXPECT_LT(max_abs_diff(a, b), 1e-5) << to_string(kind);
    EXPECT_GT(max_abs_diff(attention(q, k, v, o), attention(q2, k2, v2, o)), 1e-2) << "later rows differ";
  }
}

TEST(Attention, PaddedKeysChangeNothing) {
  const int64_t d = 8, l = 20, keep = 13;
  at::Tensor q = randn({1, 2, l, d}, 40), k = randn({1, 2, l, d}, 41), v = randn({1, 2, l, d}, 42);
  at::Tensor mask = at::zeros({1, l}, at::kBool);
  mask.narrow(1, keep, l - keep).fill_(true);
  // Padded keys with huge values: they must not leak through maxima or sums.
  at::Tensor k_junk = k.clone(), v_junk = v.clone();
  k_junk.narrow(2, keep, l - keep).fill_(50.0);
  v_junk.narrow(2, keep, l - keep).fill_(1e4);
  for (AttentionKind kind : {AttentionKind::exact, AttentionKind::favor_softmax, AttentionKind::favor_relu,
                             AttentionKind::favor_trig}) {
    for (bool causal : {false, true}) {
      AttentionOptions o = favor_options(kind, causal, 32, d);
      o.causal_chunk_size = 4;
      at::Tensor padded = attention(q, k_junk, v_junk, o, mask).narrow(2, 0, keep);
      at::Tensor trimmed = attention(q.narrow(2, 0, keep), k.narrow(2, 0, keep), v.narrow(2, 0, keep), o);
      if (kind == AttentionKind::favor_trig) {  // near-zero normalisers: compare in double
        padded = attention(q.to(at::kDouble), k_junk.to(at::kDouble), v_junk.to(at::kDouble), o, mask)
                     .narrow(2, 0, keep);
        trimmed = attention(q.narrow(2, 0, keep).to(at::kDouble), k.narrow(2, 0, keep).to(at::kDouble),
                            v.narrow(2, 0, keep).to(at::kDouble), o);
      }
      EXPECT_LT(max_abs_diff(padded, trimmed), 1e-4) << to_string(kind) << " causal=" << causal;
      if (!causal && kind != AttentionKind::favor_trig) {  // bidirectional: every query, also those past the padding, sees only valid keys
        at::Tensor all_q = attention(q, k_junk, v_junk, o, mask);
        at::Tensor ref = attention(q, k.narrow(2, 0, keep), v.narrow(2, 0, keep), o);
        EXPECT_LT(max_abs_diff(all_q, ref), 1e-4) << to_string(kind);
      }
    }
  }
}

TEST(Attention, OneSequenceDoesNotDependOnTheOthersInTheBatch) {
  const int64_t d = 8;
  at::Tensor q = randn({3, 2, 25, d}, 50), k = randn({3, 2, 25, d}, 51), v = randn({3, 2, 25, d}, 52);
  at::Tensor mask = at::zeros({3, 25}, at::kBool);
  mask[1].narrow(0, 17, 8).fill_(true);
  for (AttentionKind kind : kFavorKinds) {
    if (kind == AttentionKind::favor_trig) {  // near-zero normalisers: see above
      q = q.to(at::kDouble), k = k.to(at::kDouble), v = v.to(at::kDouble);
    }
    for (bool causal : {false, true}) {
      AttentionOptions o = favor_options(kind, causal, 24, d);
      o.causal_chunk_size = 8;
      at::Tensor batched = attention(q, k, v, o, mask);
      for (int64_t b = 0; b < 3; ++b) {
        at::Tensor alone = attention(q.narrow(0, b, 1), k.narrow(0, b, 1), v.narrow(0, b, 1), o,
                                     mask.narrow(0, b, 1));
        EXPECT_LT(max_abs_diff(batched.narrow(0, b, 1), alone), 1e-6) << to_string(kind);
      }
    }
  }
}

TEST(Attention, WeightsReproduceTheOutput) {
  const int64_t d = 8;
  at::Tensor q = randn({2, 2, 19, d}, 60), k = randn({2, 2, 19, d}, 61), v = randn({2, 2, 19, 5}, 62);
  at::Tensor mask = at::zeros({2, 19}, at::kBool);
  mask[1].narrow(0, 15, 4).fill_(true);
  for (AttentionKind kind : {AttentionKind::exact, AttentionKind::favor_softmax, AttentionKind::favor_relu}) {
    for (bool causal : {false, true}) {
      AttentionOptions o = favor_options(kind, causal, 32, d);
      at::Tensor out = attention(q, k, v, o, mask);
      at::Tensor w = attention_weights(q, k, o, mask, 1, 1);  // [19, 19]
      EXPECT_LT(max_abs_diff(w.sum(-1), at::ones({19})), 1e-5);
      EXPECT_EQ(w.narrow(1, 15, 4).abs().max().item<double>(), 0.0);  // padded keys
      if (causal) {
        EXPECT_EQ(w.triu(1).abs().max().item<double>(), 0.0);
      }
      EXPECT_LT(max_abs_diff(at::matmul(w, v[1][1]), out[1][1]), 1e-5) << to_string(kind);
    }
  }
}

// FAVOR+'s variance grows like exp(|q + k|^2 / sqrt(d)): the studies below pick the input scale at
// which each property is measurable with a handful of seeds (see `performer bench approx`).
TEST(Attention, SoftmaxFeaturesApproachExactAsFeaturesGrow) {
  ApproxConfig c;
  c.input_std = 0.25;
  c.length = 256;
  c.dim = 32;
  c.heads = 2;
  c.seeds = 4;
  c.features = {16, 512};
  auto rows = approximation_study(c, {AttentionKind::favor_softmax}, {ProjectionKind::orthogonal});
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_LT(rows[1].output_error, 0.4 * rows[0].output_error)
      << "m=16: " << rows[0].output_error << " m=512: " << rows[1].output_error;
  EXPECT_LT(rows[1].weight_error, 0.4 * rows[0].weight_error);
}

TEST(Attention, OrthogonalFeaturesHaveLowerErrorThanIid) {
  ApproxConfig c;
  c.input_std = 0.25;
  c.length = 256;
  c.dim = 32;
  c.heads = 4;
  c.seeds = 8;
  c.features = {32, 128};
  auto rows = approximation_study(c, {AttentionKind::favor_softmax},
                                  {ProjectionKind::orthogonal, ProjectionKind::iid});
  ASSERT_EQ(rows.size(), 4u);  // projection x m
  for (int i = 0; i < 2; ++i) {
    EXPECT_LT(rows[i].output_error, rows[2 + i].output_error) << "m=" << rows[i].features;
    EXPECT_LT(rows[i].weight_error, rows[2 + i].weight_error) << "m=" << rows[i].features;
  }
}

TEST(Attention, PositiveFeaturesHaveLowerErrorThanTrigOnPeakedAttention) {
  // Inputs whose attention is peaked, with many small weights: the regime of trained models, where
  // trig features produce negative or near-zero normalisers and positive features stay stable.
  ApproxConfig c;
  c.input_std = 0.75;
  c.length = 256;
  c.dim = 32;
  c.heads = 4;
  c.seeds = 6;
  c.features = {32, 128};
  auto rows = approximation_study(c, {AttentionKind::favor_softmax, AttentionKind::favor_trig},
                                  {ProjectionKind::orthogonal});
  ASSERT_EQ(rows.size(), 4u);  // kind x m
  for (int i = 0; i < 2; ++i) {
    EXPECT_LT(rows[i].output_error, rows[2 + i].output_error) << "m=" << rows[i].features;
    EXPECT_LT(rows[i].weight_error, rows[2 + i].weight_error) << "m=" << rows[i].features;
  }
}

TEST(Attention, KeptFeaturesHoldTwoFeatureMatricesUntilTheBackward) {
  // What the forward leaves alive for the backward: keeping the features costs phi(Q) and phi(K),
  // 2 x [B H, L, m] floats, more than recomputing them; in inference nothing extra is kept; favor_trig
  // always recomputes.
  tools::TensorMemory::install();
  const int64_t b = 2, h = 2, l = 300, d = 8, m = 32;
  at::Tensor q = at::randn({b, h, l, d}), k = at::randn({b, h, l, d}), v = at::randn({b, h, l, d});
  const double features = 2.0 * b * h * l * m * 4;
  EXPECT_TRUE(keeps_features(AttentionKind::favor_softmax));
  EXPECT_TRUE(keeps_features(AttentionKind::favor_relu));
  for (AttentionKind kind : {AttentionKind::favor_trig, AttentionKind::exact, AttentionKind::dummy}) {
    EXPECT_FALSE(keeps_features(kind)) << to_string(kind);
  }
  for (AttentionKind kind : {AttentionKind::favor_softmax, AttentionKind::favor_relu, AttentionKind::favor_trig}) {
    for (bool causal : {false, true}) {
      auto held = [&](bool keep, bool grad) {
        AttentionOptions o;
        o.kind = kind;
        o.causal = causal;
        o.projection = test::projection(m, d, 3);
        o.block_rows = 128;  // several blocks, the last one partial
        o.keep_features = keep;
        at::Tensor qq = q.clone().requires_grad_(grad), kk = k.clone().requires_grad_(grad);
        at::Tensor vv = v.clone().requires_grad_(grad);
        const int64_t before = tools::TensorMemory::current_bytes();
        at::Tensor out = attention(qq, kk, vv, o);
        const int64_t bytes = tools::TensorMemory::current_bytes() - before;
        if (grad) out.sum().backward();
        return static_cast<double>(bytes);
      };
      const std::string what = to_string(kind) + (causal ? " causal" : " bidirectional");
      // favor_trig recomputes whatever keep_features says.
      const double extra = keeps_features(kind) ? features : 0.0;
      EXPECT_NEAR(held(true, true) - held(false, true), extra, 0.05 * features) << what;
      EXPECT_NEAR(held(true, false), held(false, false), 0.01 * features) << what;
    }
  }
}

TEST(Attention, BadShapesAndKindsAreConfigErrors) {
  at::Tensor x = randn({1, 2, 4, 8}, 70);
  AttentionOptions o;
  o.kind = AttentionKind::favor_softmax;
  EXPECT_THROW(attention(x, x, x, o), ConfigError);  // no projection
  o.projection = test::projection(16, 4);
  EXPECT_THROW(attention(x, x, x, o), ConfigError);  // projection for the wrong d
  EXPECT_THROW(attention(x.view({2, 4, 8}), x, x, AttentionOptions{}), ConfigError);
  EXPECT_THROW(attention(x, x, x, AttentionOptions{}, at::zeros({1, 5}, at::kBool)), ConfigError);
  EXPECT_THROW(parse_attention_kind("softmax"), ConfigError);
  EXPECT_EQ(parse_attention_kind("favor_relu"), AttentionKind::favor_relu);
}

TEST(Attention, HalfPrecisionInputsUseFloat32Features) {
  const int64_t d = 16;
  at::Tensor q = randn({1, 2, 33, d}, 80), k = randn({1, 2, 33, d}, 81), v = randn({1, 2, 33, d}, 82);
  AttentionOptions o = favor_options(AttentionKind::favor_softmax, true, 32, d);
  at::Tensor full = attention(q, k, v, o);
  at::Tensor bf16 = attention(q.to(at::kBFloat16), k.to(at::kBFloat16), v.to(at::kBFloat16), o);
  EXPECT_EQ(bf16.scalar_type(), at::kBFloat16);
  EXPECT_LT(max_abs_diff(bf16, full), 0.05);  // bf16 rounding of inputs and output only
}

TEST(Attention, Bf16ProductsTrackFloatFavorAndItsGradients) {
  const int64_t d = 16, l = 100;  // not a multiple of the chunk
  at::Tensor mask = at::zeros({2, l}, at::kBool);
  mask[1].narrow(0, 90, 10).fill_(true);
  for (AttentionKind kind : {AttentionKind::favor_softmax, AttentionKind::favor_relu}) {
    for (bool causal : {false, true}) {
      const std::string what = to_string(kind) + (causal ? " causal" : " bidirectional");
      AttentionOptions o = favor_options(kind, causal, 32, d);
      o.causal_chunk_size = 16;
      o.block_rows = 48;  // several blocks
      AttentionOptions b = o;
      b.bf16_products = true;
      auto run = [&](const AttentionOptions& opts) {
        at::Tensor q = randn({2, 2, l, d}, 90).requires_grad_(), k = randn({2, 2, l, d}, 91).requires_grad_();
        at::Tensor v = randn({2, 2, l, d}, 92).requires_grad_();
        at::Tensor out = attention(q, k, v, opts, mask);
        (out * randn({2, 2, l, d}, 93)).sum().backward();
        return std::vector<at::Tensor>{out.detach(), q.grad(), k.grad(), v.grad()};
      };
      const auto f = run(o), h = run(b);
      ASSERT_EQ(h[0].scalar_type(), at::kFloat) << what;
      // bf16 factors (8 significant bits) move the outputs by up to about 1% of the largest (measured:
      // 0.3-1.1%), not more...
      EXPECT_LT(max_abs_diff(h[0], f[0]), 0.02 * f[0].abs().max().item<double>()) << what;
      EXPECT_GT(max_abs_diff(h[0], f[0]), 0.0) << what;  // ...and they do move them
      for (int i = 1; i < 4; ++i) {
        const double cos = (h[i] * f[i]).sum().item<double>() / (h[i].norm() * f[i].norm()).item<double>();
        EXPECT_GT(cos, 0.999) << what << " gradient " << i;
      }
    }
  }
  // Causal relu features (no stabiliser to rescale): later tokens still change nothing before them.
  const int64_t cut = 37;
  at::Tensor q = randn({1, 2, 64, d}, 94), k = randn({1, 2, 64, d}, 95), v = randn({1, 2, 64, d}, 96);
  at::Tensor q2 = q.clone(), k2 = k.clone(), v2 = v.clone();
  k2.narrow(2, cut + 1, 64 - cut - 1).mul_(3.0);
  v2.narrow(2, cut + 1, 64 - cut - 1).add_(1.0);
  AttentionOptions o = favor_options(AttentionKind::favor_relu, true, 32, d);
  o.causal_chunk_size = 16;
  o.bf16_products = true;
  EXPECT_LT(max_abs_diff(attention(q, k, v, o).narrow(2, 0, cut + 1), attention(q2, k2, v2, o).narrow(2, 0, cut + 1)),
            1e-6);
  // Double inputs (the gradient tests) ignore the option.
  o.causal = false;
  AttentionOptions plain = o;
  plain.bf16_products = false;
  EXPECT_TRUE(torch::equal(attention(q.to(at::kDouble), k.to(at::kDouble), v.to(at::kDouble), o),
                           attention(q.to(at::kDouble), k.to(at::kDouble), v.to(at::kDouble), plain)));
}

TEST(Attention, ExactInferenceInBlocksOfQueriesEqualsTheWholeMatrix) {
  // Without a backward, exact attention above the block size runs in blocks of query rows (each
  // against the keys it may see): the same numbers, bidirectional and causal, with padding.
  torch::manual_seed(5);
  const int64_t b = 2, h = 3, l = 97, d = 8;
  auto q = torch::randn({b, h, l, d}), k = torch::randn({b, h, l, d}), v = torch::randn({b, h, l, d});
  auto padding = torch::zeros({b, l}, torch::kBool);
  padding.index_put_({1, torch::indexing::Slice(80, torch::indexing::None)}, true);
  torch::NoGradGuard no_grad;
  for (bool causal : {false, true}) {
    AttentionOptions o;
    o.kind = AttentionKind::exact;
    o.causal = causal;
    const auto whole = attention(q, k, v, o, padding);
    // 7 query rows per block (b x h x l floats a row): blocks that do not divide 97.
    const int64_t previous = set_exact_block_bytes(b * h * l * 4 * 7);
    const auto blocked = attention(q, k, v, o, padding);
    set_exact_block_bytes(previous);
    EXPECT_LT(max_abs_diff(whole, blocked), 1e-6) << (causal ? "causal" : "bidirectional");
  }
}
