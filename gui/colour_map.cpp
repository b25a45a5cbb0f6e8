#include "gui/colour_map.h"

#include <algorithm>
#include <cmath>

namespace performer::view {
namespace {

// The published viridis palette at nine evenly spaced points (0, 1/8, ..., 1); the table interpolates
// linearly between them in sRGB, within a few levels of the full 256-entry definition.
constexpr std::array<QRgb, 9> kAnchors = {0xff440154, 0xff472d7b, 0xff3b528b, 0xff2c728e, 0xff21908c,
                                          0xff27ad81, 0xff5dc863, 0xffaadc32, 0xfffde725};

std::array<QRgb, 256> build_table() {
  std::array<QRgb, 256> table{};
  const int segments = static_cast<int>(kAnchors.size()) - 1;
  for (int k = 0; k < 256; ++k) {
    const double x = k / 255.0 * segments;
    const int s = std::min(static_cast<int>(x), segments - 1);
    const double f = x - s;
    auto mix = [f](int a, int b) { return static_cast<int>(std::lround(a + (b - a) * f)); };
    const QRgb a = kAnchors[s], b = kAnchors[s + 1];
    table[k] = qRgb(mix(qRed(a), qRed(b)), mix(qGreen(a), qGreen(b)), mix(qBlue(a), qBlue(b)));
  }
  return table;
}

}  // namespace

const std::array<QRgb, 256>& viridis_table() {
  static const std::array<QRgb, 256> table = build_table();
  return table;
}

QRgb viridis(double t) {
  if (!(t >= 0)) t = 0;  // NaN too
  const int k = static_cast<int>(std::lround(std::min(t, 1.0) * 255));
  return viridis_table()[k];
}

}  // namespace performer::view
