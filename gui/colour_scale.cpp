#include "gui/colour_scale.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace performer::view {

ColourScale ColourScale::fit(const std::vector<const Matrix*>& matrices, bool log) {
  double low = std::numeric_limits<double>::infinity(), high = -low, positive = low;
  for (const Matrix* m : matrices) {
    const auto [lo, hi] = finite_range(*m);
    if (m->empty() || lo > hi) continue;
    low = std::min<double>(low, lo);
    high = std::max<double>(high, hi);
    if (const float p = smallest_positive(*m); p > 0) positive = std::min<double>(positive, p);
  }
  ColourScale s;
  s.log = log;
  if (!(low <= high)) return s;  // nothing finite: the default 0..1
  if (log) {
    if (!(high > 0)) high = 1;
    s.high = high;
    s.low = std::isfinite(positive) ? std::max(positive, high / kLogDecades) : high / kLogDecades;
    if (s.low >= s.high) s.low = s.high / 10;
  } else {
    s.low = low;
    s.high = high > low ? high : low + 1;  // a constant matrix still gets a scale
  }
  return s;
}

double ColourScale::position(double v) const {
  if (std::isnan(v)) return v;
  double t;
  if (log) {
    t = v <= 0 ? 0 : (std::log10(v) - std::log10(low)) / (std::log10(high) - std::log10(low));
  } else {
    t = (v - low) / (high - low);
  }
  return std::clamp(t, 0.0, 1.0);
}

double ColourScale::value(double t) const {
  if (log) return std::pow(10.0, std::log10(low) + t * (std::log10(high) - std::log10(low)));
  return low + t * (high - low);
}

}  // namespace performer::view
