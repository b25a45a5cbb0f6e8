#pragma once
// A dense float matrix with no LibTorch behind it: what the viewer's rendering code draws, so that
// rendering and its tests need only QtCore/QtGui.
#include <cstddef>
#include <utility>
#include <vector>

namespace performer::view {

struct Matrix {
  int rows = 0;
  int cols = 0;
  std::vector<float> values;  // [rows, cols], row-major

  Matrix() = default;
  Matrix(int rows, int cols, float fill = 0.0f);
  Matrix(int rows, int cols, std::vector<float> values);  // values.size() must be rows * cols

  bool empty() const { return rows == 0 || cols == 0; }
  float at(int row, int col) const { return values[static_cast<std::size_t>(row) * cols + col]; }
  float& at(int row, int col) { return values[static_cast<std::size_t>(row) * cols + col]; }
};

// Smallest and largest finite value; {0, 0} when there is none.
std::pair<float, float> finite_range(const Matrix& m);
// Smallest finite value above zero; 0 when there is none (log scales start there).
float smallest_positive(const Matrix& m);

// Area average onto at most rows x cols cells: a 1,000-residue map drawn in a 150-pixel tile keeps the
// mass of every cell instead of the one nearest-neighbour sampling would pick. A matrix already no larger
// is returned as is.
Matrix downsample(const Matrix& m, int rows, int cols);

}  // namespace performer::view
