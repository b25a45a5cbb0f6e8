#include "gui/matrix.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace performer::view {

Matrix::Matrix(int rows, int cols, float fill)
    : rows(rows), cols(cols), values(static_cast<size_t>(rows) * cols, fill) {}

Matrix::Matrix(int rows, int cols, std::vector<float> values) : rows(rows), cols(cols), values(std::move(values)) {
  if (this->values.size() != static_cast<size_t>(rows) * cols) {
    throw std::invalid_argument("Matrix: values do not fill rows x cols");
  }
}

std::pair<float, float> finite_range(const Matrix& m) {
  float low = std::numeric_limits<float>::infinity(), high = -low;
  for (float v : m.values) {
    if (!std::isfinite(v)) continue;
    low = std::min(low, v);
    high = std::max(high, v);
  }
  if (low > high) return {0.0f, 0.0f};
  return {low, high};
}

float smallest_positive(const Matrix& m) {
  float low = std::numeric_limits<float>::infinity();
  for (float v : m.values) {
    if (v > 0 && std::isfinite(v)) low = std::min(low, v);
  }
  return std::isfinite(low) ? low : 0.0f;
}

Matrix downsample(const Matrix& m, int rows, int cols) {
  rows = std::max(1, std::min(rows, m.rows));
  cols = std::max(1, std::min(cols, m.cols));
  if (rows == m.rows && cols == m.cols) return m;
  // Each source cell adds to the target cells its extent overlaps, weighted by the overlap, so the
  // result is exact for any ratio (not only whole-number ones).
  Matrix sum(rows, cols), weight(rows, cols);
  const double row_scale = static_cast<double>(rows) / m.rows, col_scale = static_cast<double>(cols) / m.cols;
  for (int i = 0; i < m.rows; ++i) {
    const double top = i * row_scale, bottom = (i + 1) * row_scale;
    for (int ti = static_cast<int>(top); ti < rows && ti < bottom; ++ti) {
      const double wy = std::min<double>(bottom, ti + 1) - std::max<double>(top, ti);
      if (wy <= 0) continue;
      for (int j = 0; j < m.cols; ++j) {
        const float v = m.at(i, j);
        if (!std::isfinite(v)) continue;
        const double left = j * col_scale, right = (j + 1) * col_scale;
        for (int tj = static_cast<int>(left); tj < cols && tj < right; ++tj) {
          const double w = wy * (std::min<double>(right, tj + 1) - std::max<double>(left, tj));
          if (w <= 0) continue;
          sum.at(ti, tj) += static_cast<float>(w * v);
          weight.at(ti, tj) += static_cast<float>(w);
        }
      }
    }
  }
  for (size_t k = 0; k < sum.values.size(); ++k) {
    sum.values[k] = weight.values[k] > 0 ? sum.values[k] / weight.values[k] : std::numeric_limits<float>::quiet_NaN();
  }
  return sum;
}

}  // namespace performer::view
