#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/errors.h"
#include "core/projection.h"

using namespace performer::core;

TEST(Projection, OrthogonalBlocksHaveOrthogonalRowsAndChiNorms) {
  ProjectionOptions p;
  p.features = 100;  // one full block of 64 and a cut block of 36
  p.dim = 64;
  at::Tensor w = draw_projection(p).to(at::kDouble);
  ASSERT_EQ(w.sizes(), (std::vector<int64_t>{100, 64}));
  for (auto [start, rows] : {std::pair<int64_t, int64_t>{0, 64}, {64, 36}}) {
    at::Tensor block = w.narrow(0, start, rows);
    at::Tensor unit = block / block.norm(2, {1}, true);
    at::Tensor gram = at::matmul(unit, unit.t());
    EXPECT_LT((gram - at::eye(rows, gram.options())).abs().max().item<double>(), 1e-5);
  }
  // chi(64) norms: mean about sqrt(63.5) ~ 7.97, not all equal.
  at::Tensor norms = w.norm(2, {1});
  EXPECT_NEAR(norms.mean().item<double>(), 7.97, 0.4);
  EXPECT_GT(norms.std().item<double>(), 0.3);
}

TEST(Projection, SqrtDNormsAndIidAndIdentity) {
  ProjectionOptions p;
  p.features = 32;
  p.dim = 16;
  p.norm = RowNorm::sqrt_d;
  EXPECT_LT((draw_projection(p).norm(2, {1}) - 4.0).abs().max().item<double>(), 1e-4);
  p.kind = ProjectionKind::iid;
  at::Tensor iid = draw_projection(p);
  at::Tensor unit = iid / iid.norm(2, {1}, true);
  at::Tensor gram = at::matmul(unit.narrow(0, 0, 16), unit.narrow(0, 0, 16).t());
  EXPECT_GT((gram - at::eye(16)).abs().max().item<double>(), 0.05);  // not orthogonal
  p.kind = ProjectionKind::identity;
  EXPECT_THROW(draw_projection(p), performer::ConfigError);  // m != d
  p.features = 16;
  EXPECT_TRUE(draw_projection(p).equal(at::eye(16)));
}

TEST(Projection, SameSeedAndIndexSameMatrixOtherwiseDifferent) {
  ProjectionOptions p;
  p.features = 64;
  p.dim = 32;
  p.seed = 5;
  EXPECT_TRUE(draw_projection(p, 3).equal(draw_projection(p, 3)));
  EXPECT_FALSE(draw_projection(p, 3).equal(draw_projection(p, 4)));
  ProjectionOptions other = p;
  other.seed = 6;
  EXPECT_FALSE(draw_projection(p, 3).equal(draw_projection(other, 3)));
}
