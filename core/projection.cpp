#include "core/projection.h"

#include <ATen/CPUGeneratorImpl.h>

#include "core/errors.h"

namespace performer::core {
namespace {

// splitmix64: spreads (seed, draw index) so that neighbouring draws get unrelated generator states.
uint64_t mix_seed(uint64_t seed, uint64_t index) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (index + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace

at::Tensor draw_projection(const ProjectionOptions& options, uint64_t draw_index) {
  const int64_t m = options.features;
  const int64_t d = options.dim;
  require_config(m > 0 && d > 0, "projection needs features > 0 and dim > 0");
  const auto f32 = at::TensorOptions().dtype(at::kFloat);
  if (options.kind == ProjectionKind::identity) {
    require_config(m == d, "identity projection needs features == dim (got " + std::to_string(m) +
                               " features for dim " + std::to_string(d) + ")");
    return at::eye(d, f32);
  }
  at::Generator gen = at::detail::createCPUGenerator(mix_seed(options.seed, draw_index));
  if (options.kind == ProjectionKind::iid) return at::randn({m, d}, gen, f32);  // [m, d]

  // Orthogonal: ceil(m / d) blocks, each the Q factor of a d x d Gaussian (sign-corrected so it is
  // Haar distributed), rows concatenated and the last block cut to m mod d rows.
  const int64_t blocks = (m + d - 1) / d;
  std::vector<at::Tensor> rows;
  rows.reserve(blocks);
  for (int64_t b = 0; b < blocks; ++b) {
    at::Tensor gaussian = at::randn({d, d}, gen, f32.dtype(at::kDouble));
    auto [q, r] = at::linalg_qr(gaussian);
    q = q * at::sign(at::diagonal(r)).unsqueeze(0);  // [d, d]
    rows.push_back(q.t());                           // rows of Q^T are orthonormal too
  }
  at::Tensor w = at::cat(rows, 0).narrow(0, 0, m);  // [m, d], unit rows
  at::Tensor norms = options.norm == RowNorm::chi
                         ? at::randn({m, d}, gen, f32.dtype(at::kDouble)).norm(2, {1}, true)  // [m, 1]
                         : at::full({m, 1}, std::sqrt(static_cast<double>(d)), f32.dtype(at::kDouble));
  return (w * norms).to(at::kFloat);
}

}  // namespace performer::core
