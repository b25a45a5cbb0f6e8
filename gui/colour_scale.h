#pragma once
// How values map to [0, 1] on the colour map: linear or log10 between a low and a high value. One scale
// is shared by every tile of a grid, so equal colours mean equal weights across layers and heads.
#include <vector>

#include "gui/matrix.h"

namespace performer::view {

struct ColourScale {
  double low = 0;    // drawn at 0 (and everything below)
  double high = 1;   // drawn at 1 (and everything above)
  bool log = false;  // log10 between low and high; low > 0

  // Low and high from the finite values of the matrices. Log scales start at the smallest positive
  // value, but no lower than high / kLogDecades decades: attention has many near-zero weights whose
  // exact size is noise.
  static ColourScale fit(const std::vector<const Matrix*>& matrices, bool log);
  static constexpr double kLogDecades = 1e4;

  double position(double value) const;  // in [0, 1]; NaN for NaN
  double value(double position) const;  // inverse, for legend ticks
};

}  // namespace performer::view
