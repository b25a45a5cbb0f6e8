// Gradients of every attention kind against central finite differences, in double precision.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/attention.h"
#include "tests/core/reference.h"

using namespace performer;
using namespace performer::core;

namespace {

struct Case {
  AttentionKind kind;
  bool causal;
  bool padded;
  double softmax_epsilon;
  double tolerance;
  bool keep_features = true;  // favor: the backward uses the forward's features (false: recomputes)
};

// Largest |autograd - finite difference| over all entries of q, k and v, relative to the gradient scale.
double gradient_error(const Case& c) {
  const int64_t b = 2, h = 2, l = 7, d = 4, dv = 3;
  auto gen = at::detail::createCPUGenerator(7);
  auto opts = at::TensorOptions().dtype(at::kDouble);
  at::Tensor q = at::randn({b, h, l, d}, gen, opts) * 0.7;
  at::Tensor k = at::randn({b, h, l, d}, gen, opts) * 0.7;
  at::Tensor v = at::randn({b, h, l, dv}, gen, opts);
  at::Tensor r = at::randn({b, h, l, dv}, gen, opts);  // loss = sum(out * r)
  at::Tensor mask;
  if (c.padded) {
    mask = at::zeros({b, l}, at::kBool);
    mask[1].narrow(0, 5, 2).fill_(true);
  }
  AttentionOptions o;
  o.kind = c.kind;
  o.causal = c.causal;
  o.projection = test::projection(6, d, 2);  // m = 6 > d: one full and one cut orthogonal block
  o.causal_chunk_size = 2;
  o.block_rows = 4;  // two blocks of two chunks, the last one partial
  o.softmax_epsilon = c.softmax_epsilon;
  o.keep_features = c.keep_features;
  auto loss = [&](const at::Tensor& qq, const at::Tensor& kk, const at::Tensor& vv) {
    return (attention(qq, kk, vv, o, mask) * r).sum();
  };
  std::vector<at::Tensor> inputs = {q.clone().requires_grad_(), k.clone().requires_grad_(),
                                    v.clone().requires_grad_()};
  auto grads = torch::autograd::grad({loss(inputs[0], inputs[1], inputs[2])}, inputs, {},
                                     /*retain_graph=*/false, /*create_graph=*/false,
                                     /*allow_unused=*/true);
  double worst = 0, scale = 1e-3;
  const double step = 1e-6;
  torch::NoGradGuard no_grad;
  for (int which = 0; which < 3; ++which) {
    at::Tensor base = which == 0 ? q : which == 1 ? k : v;
    at::Tensor flat = base.view(-1);
    at::Tensor numeric = at::zeros_like(flat);
    for (int64_t i = 0; i < flat.numel(); ++i) {
      const double keep = flat[i].item<double>();
      flat[i] = keep + step;
      const double up = loss(q, k, v).item<double>();
      flat[i] = keep - step;
      const double down = loss(q, k, v).item<double>();
      flat[i] = keep;
      numeric[i] = (up - down) / (2 * step);
    }
    at::Tensor analytic = grads[which].defined() ? grads[which].reshape(-1) : at::zeros_like(numeric);
    worst = std::max(worst, test::max_abs_diff(analytic, numeric));
    scale = std::max(scale, numeric.abs().max().item<double>());
  }
  return worst / scale;
}

std::string name(const Case& c) {
  return to_string(c.kind) + (c.causal ? " causal" : " bidirectional") + (c.padded ? " padded" : "") +
         " eps=" + std::to_string(c.softmax_epsilon) + (c.keep_features ? "" : " recomputed");
}

}  // namespace

TEST(Gradients, EveryKindMatchesFiniteDifferences) {
  std::vector<Case> cases;
  for (AttentionKind kind : {AttentionKind::exact, AttentionKind::favor_softmax, AttentionKind::favor_relu,
                             AttentionKind::favor_trig, AttentionKind::dummy}) {
    for (bool causal : {false, true}) {
      for (bool padded : {false, true}) {
        cases.push_back({kind, causal, padded, 0.0, 1e-6});
        if (keeps_features(kind)) cases.push_back({kind, causal, padded, 0.0, 1e-6, false});  // recomputed
      }
    }
  }
  for (const Case& c : cases) EXPECT_LT(gradient_error(c), c.tolerance) << name(c);
}

TEST(Gradients, SoftmaxWithEpsilonStaysCloseToFiniteDifferences) {
  // The epsilon does not cancel exactly, so holding the detached stabiliser fixed leaves a bias of
  // order epsilon in the bidirectional gradient; causal keys carry no epsilon and stay exact.
  for (bool keep : {true, false}) {
    EXPECT_LT(gradient_error({AttentionKind::favor_softmax, false, true, 1e-6, 1e-4, keep}), 1e-4);
    EXPECT_LT(gradient_error({AttentionKind::favor_softmax, true, true, 1e-6, 1e-6, keep}), 1e-6);
  }
}

TEST(Gradients, SoftmaxEpsilonMatchesItsReferenceWithStabilisersHeldConstant) {
  // A large epsilon, so that its terms (carried through row sums rather than added to the features)
  // weigh in: values and gradients against autograd through the explicit L x L reference whose
  // maxima are detached, as FAVOR's backward holds them constant. Padded keys and several blocks.
  const int64_t b = 2, h = 2, l = 11, d = 4, dv = 3;
  auto gen = at::detail::createCPUGenerator(5);
  auto opts = at::TensorOptions().dtype(at::kDouble);
  at::Tensor q = at::randn({b, h, l, d}, gen, opts), k = at::randn({b, h, l, d}, gen, opts);
  at::Tensor v = at::randn({b, h, l, dv}, gen, opts), r = at::randn({b, h, l, dv}, gen, opts);
  at::Tensor mask = at::zeros({b, l}, at::kBool);
  mask[1].narrow(0, 7, 4).fill_(true);
  for (int variant = 0; variant < 4; ++variant) {
    // Kept features (bidirectional keys made under each block's running stabiliser) and recomputed.
    const bool causal = variant % 2 == 1, keep = variant < 2;
    AttentionOptions o;
    o.kind = AttentionKind::favor_softmax;
    o.causal = causal;
    o.keep_features = keep;
    o.projection = test::projection(6, d, 2);
    o.causal_chunk_size = 2;
    o.block_rows = 4;
    o.softmax_epsilon = 0.3;
    std::vector<at::Tensor> ours = {q.clone().requires_grad_(), k.clone().requires_grad_(),
                                    v.clone().requires_grad_()};
    std::vector<at::Tensor> ref = {q.clone().requires_grad_(), k.clone().requires_grad_(),
                                   v.clone().requires_grad_()};
    at::Tensor out = attention(ours[0], ours[1], ours[2], o, mask);
    at::Tensor expect = test::reference_attention(ref[0], ref[1], ref[2], o, mask, /*detach=*/true);
    const std::string what = std::string(causal ? "causal" : "bidirectional") + (keep ? "" : " recomputed");
    EXPECT_LT(test::max_abs_diff(out, expect), 1e-10) << what;
    (out * r).sum().backward();
    (expect * r).sum().backward();
    for (int i = 0; i < 3; ++i) {
      EXPECT_LT(test::max_abs_diff(ours[i].grad(), ref[i].grad()), 1e-9)
          << "input " << i << " " << what;
    }
  }
}
