#pragma once
// Random feature projections for FAVOR: the matrix W [m, d] whose rows w_i give features exp(w_i . x).
#include <ATen/ATen.h>

#include <cstdint>
#include <string>

#include "core/names.h"

namespace performer::core {

enum class ProjectionKind {
  orthogonal,  // blocks of d exactly orthogonal rows (QR of Gaussians): lower estimator variance
  iid,         // independent N(0, I_d) rows: the baseline the paper compares against
  identity,    // W = I (m = d): the deterministic ReLU-kernel variant
};

enum class RowNorm {
  chi,     // each row rescaled to the norm of an independent N(0, I_d) vector (unbiased softmax kernel)
  sqrt_d,  // each row rescaled to sqrt(d)
};

struct ProjectionOptions {
  int64_t features = 256;                         // m: number of random features
  int64_t dim = 64;                               // d: per-head query/key dimension
  ProjectionKind kind = ProjectionKind::orthogonal;  // how rows are drawn
  RowNorm norm = RowNorm::chi;                    // row scaling for orthogonal rows (iid rows keep theirs)
  uint64_t seed = 0;                              // base seed; draw n of a run uses seed and n together
};

// Draws projection number draw_index of the sequence defined by options.seed: the same (seed, index)
// always gives the same matrix on every machine. Returns [m, d] float32 on the CPU.
at::Tensor draw_projection(const ProjectionOptions& options, uint64_t draw_index = 0);

constexpr NameList<ProjectionKind, 3> names(ProjectionKind) {
  return {{{ProjectionKind::orthogonal, "orthogonal"}, {ProjectionKind::iid, "iid"}, {ProjectionKind::identity, "identity"}}};
}
inline ProjectionKind parse_projection_kind(const std::string& name) {  // throws ConfigError
  return parse_name<ProjectionKind>(name, "projection kind");
}

}  // namespace performer::core
