// Causal FAVOR's key stabiliser (issue 25): a causal position must not depend on later keys, not even
// through the constant its key features are divided by. A key whose largest logit is far below a later
// key's (a large-norm <cls> at position 0: w.x - |x|^2/2 falls with |x|^2) used to lose every feature
// to float underflow once a later key in the same block raised the maximum, and its row came out 0.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/attention.h"
#include "tests/core/reference.h"

using namespace performer;
using namespace performer::core;
using test::max_abs_diff;

namespace {

constexpr int64_t kDim = 16, kLength = 40, kFeatures = 32;

at::Tensor randn(std::vector<int64_t> shape, uint64_t seed, double scale = 1.0) {
  auto gen = at::detail::createCPUGenerator(seed);
  return at::randn(shape, gen, at::kFloat) * scale;
}

// Largest softmax key logit of every position, max_f w_f.x - |x|^2/2 with x = k d^-1/4, in double:
// k [L, d], projection [m, d] -> [L].
at::Tensor largest_logits(const at::Tensor& k, const at::Tensor& projection) {
  at::Tensor x = k.to(at::kDouble) * std::pow(static_cast<double>(kDim), -0.25);
  at::Tensor logits = at::matmul(x, projection.to(at::kDouble).t()) - 0.5 * (x * x).sum(-1, true);
  return std::get<0>(logits.max(-1));
}

struct Inputs {
  at::Tensor q, k, v;  // [1, 2, L, d]
};

// Ordinary queries, keys and values, except keys 0 and 1: |k| = norm and norm / 2, whose logits fall
// like -|x|^2 / 2 = -norm^2 / 8 and -norm^2 / 32 (d = 16).
Inputs with_large_first_keys(double norm) {
  Inputs in{randn({1, 2, kLength, kDim}, 1), randn({1, 2, kLength, kDim}, 2),
            randn({1, 2, kLength, kDim}, 3)};
  at::Tensor direction = randn({1, 2, 2, kDim}, 4);
  direction.div_(direction.norm(2, -1, true));
  in.k.narrow(2, 0, 1).copy_(direction.narrow(2, 0, 1) * norm);
  in.k.narrow(2, 1, 1).copy_(direction.narrow(2, 1, 1) * (norm / 2));
  return in;
}

// The same inputs after position `cut`, changed: fresh queries and values, and keys set to projection
// rows (x = w_f), whose logits |w_f|^2 / 2 are the largest a key can have.
Inputs with_later_tokens_changed(const Inputs& in, int64_t cut, const at::Tensor& projection) {
  Inputs out{in.q.clone(), in.k.clone(), in.v.clone()};
  const int64_t later = kLength - cut - 1;
  at::Tensor rows = projection.index_select(0, at::arange(later) % kFeatures) *
                    std::pow(static_cast<double>(kDim), 0.25);  // [later, d]
  out.k.narrow(2, cut + 1, later).copy_(rows.expand({1, 2, later, kDim}));
  out.q.narrow(2, cut + 1, later).copy_(randn({1, 2, later, kDim}, 5, 3.0));
  out.v.narrow(2, cut + 1, later).copy_(randn({1, 2, later, kDim}, 6));
  return out;
}

AttentionOptions causal_softmax(const at::Tensor& projection, int64_t chunk, int64_t block, bool keep) {
  AttentionOptions o;
  o.kind = AttentionKind::favor_softmax;
  o.causal = true;
  o.projection = projection;
  o.causal_chunk_size = chunk;
  o.block_rows = block;
  o.keep_features = keep;
  return o;
}

// Output and the gradients of sum(out * weights) with respect to q, k and v.
std::vector<at::Tensor> forward_backward(const Inputs& in, const AttentionOptions& o, const at::Tensor& mask,
                                         const at::Tensor& weights) {
  at::Tensor q = in.q.clone().requires_grad_(), k = in.k.clone().requires_grad_();
  at::Tensor v = in.v.clone().requires_grad_();
  at::Tensor out = attention(q, k, v, o, mask);
  (out * weights).sum().backward();
  return {out.detach(), q.grad(), k.grad(), v.grad()};
}

}  // namespace

TEST(CausalStabiliser, AnEarlyKeyFarBelowALaterOneKeepsItsWeight) {
  const at::Tensor projection = test::projection(kFeatures, kDim, 3);
  // Padding: none, or keys 2, 3 and the last three (key 0, which row 0 needs, stays real).
  at::Tensor padding = at::zeros({1, kLength}, at::kBool);
  padding[0].narrow(0, 2, 2).fill_(true);
  padding[0].narrow(0, kLength - 3, 3).fill_(true);
  // Gaps of more than 100, about 1.25e5 and 1.25e35 between key 0's logit and the others': every one
  // of key 0's features underflows in float under a maximum set by a later key (below -87).
  for (double norm : {40.0, 1e3, 1e18}) {
    const Inputs in = with_large_first_keys(norm);
    const double gap = (largest_logits(in.k[0][0].narrow(0, 2, kLength - 2), projection).max() -
                        largest_logits(in.k[0][0].narrow(0, 0, 1), projection).max())
                           .item<double>();
    ASSERT_GT(gap, 100.0) << "norm " << norm;
    for (bool padded : {false, true}) {
      const at::Tensor mask = padded ? padding : at::Tensor();
      // The viewer's matrix, from the same stabilisers: row 0 all on key 0; it gives the output.
      const AttentionOptions plain = causal_softmax(projection, 8, 0, true);
      const at::Tensor w = attention_weights(in.q, in.k, plain, mask, 0, 1);  // [L, L]
      EXPECT_NEAR(w[0][0].item<double>(), 1.0, 1e-6) << "norm " << norm;
      EXPECT_LT(max_abs_diff(at::matmul(w, in.v[0][1]), attention(in.q, in.k, in.v, plain, mask)[0][1]), 1e-5)
          << "norm " << norm;
      // Chunks 8 and 5 divide L = 40, 16 and 7 do not; blocks (rounded up to whole chunks) of one
      // chunk, of 24 rows, and of the whole sequence.
      for (int64_t chunk : {5, 7, 8, 16}) {
        for (int64_t block : {1, 24, 0}) {
          for (bool keep : {true, false}) {
            const AttentionOptions o = causal_softmax(projection, chunk, block, keep);
            const std::string what = "norm " + std::to_string(norm) + (padded ? " padded" : "") + " chunk " +
                                     std::to_string(chunk) + " block " + std::to_string(block) +
                                     (keep ? " kept" : " recomputed");
            at::Tensor out = attention(in.q, in.k, in.v, o, mask);
            ASSERT_TRUE(out.isfinite().all().item<bool>()) << what;
            // Row 0 sees key 0 alone; row 1 gives key 0 a weight below exp(-90).
            EXPECT_LT(max_abs_diff(out[0].select(1, 0), in.v[0].select(1, 0)), 1e-5) << what;
            EXPECT_LT(max_abs_diff(out[0].select(1, 1), in.v[0].select(1, 1)), 1e-5) << what;
            if (norm < 100) {  // every weight representable in double: the explicit L x L reference
              EXPECT_LT(max_abs_diff(out, test::reference_attention(in.q, in.k, in.v, o, mask)), 1e-5)
                  << what;
            }
            // Positions up to `cut` are untouched by any change after it: outputs and the gradients of
            // a loss on them, bit for bit. Cuts at the first row, inside chunks and at a chunk's end.
            for (int64_t cut : {0, 13, 15}) {
              at::Tensor weights = randn({1, 2, kLength, kDim}, 7);
              weights.narrow(2, cut + 1, kLength - cut - 1).zero_();
              const auto a = forward_backward(in, o, mask, weights);
              const Inputs changed = with_later_tokens_changed(in, cut, projection);
              const auto b = forward_backward(changed, o, mask, weights);
              const char* names[] = {"output", "d q", "d k", "d v"};
              for (int i = 0; i < 4; ++i) {
                EXPECT_TRUE(a[i].isfinite().all().item<bool>()) << what << " " << names[i];
                EXPECT_TRUE(torch::equal(a[i].narrow(2, 0, cut + 1), b[i].narrow(2, 0, cut + 1)))
                    << what << " cut " << cut << " " << names[i];
              }
            }
          }
        }
      }
    }
  }
}

TEST(CausalStabiliser, TrigKeysAreScaledByTheNormsAPositionSees) {
  // favor_trig's key features carry exp(|x|^2/2), stabilised by a maximum of |x|^2/2: a later key
  // with |x|^2/2 = 200 (|k| = 40 at d = 16) must not take an early key's features to 0.
  const at::Tensor projection = test::projection(kFeatures, kDim, 3);
  Inputs in{randn({1, 2, kLength, kDim}, 11, 0.3), randn({1, 2, kLength, kDim}, 12, 0.3),
            randn({1, 2, kLength, kDim}, 13)};
  in.k.narrow(2, 20, 1).mul_(40.0 / in.k.narrow(2, 20, 1).norm(2, -1, true));
  for (int64_t block : {1, 0}) {
    AttentionOptions o;
    o.kind = AttentionKind::favor_trig;
    o.causal = true;
    o.projection = projection;
    o.causal_chunk_size = 8;
    o.block_rows = block;
    at::Tensor out = attention(in.q, in.k, in.v, o);
    EXPECT_LT(max_abs_diff(out[0].select(1, 0), in.v[0].select(1, 0)), 1e-5) << "block " << block;
    at::Tensor trimmed = attention(in.q.narrow(2, 0, 20), in.k.narrow(2, 0, 20), in.v.narrow(2, 0, 20), o);
    EXPECT_TRUE(torch::equal(out.narrow(2, 0, 20), trimmed)) << "block " << block;
  }
}
