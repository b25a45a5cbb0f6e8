#pragma once
// Viridis, the perceptually uniform colour map of matplotlib (van der Walt and Smith, 2015): lightness
// rises monotonically, so a heatmap reads the same in greyscale and to colour-blind readers.
#include <QRgb>

#include <array>

namespace performer::view {

// 256 entries, from dark purple (0) to yellow (1).
const std::array<QRgb, 256>& viridis_table();

// Colour at t in [0, 1] (clamped): the nearest of the 256 entries.
QRgb viridis(double t);

// What non-finite cells are drawn in (no data).
constexpr QRgb kMissingColour = 0xff808080;

}  // namespace performer::view
