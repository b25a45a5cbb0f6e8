#include "gui/heatmap.h"

#include <cmath>

#include "gui/colour_map.h"

namespace performer::view {

QImage heatmap_image(const Matrix& m, const ColourScale& scale) {
  QImage image(m.cols, m.rows, QImage::Format_RGB32);
  for (int i = 0; i < m.rows; ++i) {
    auto* line = reinterpret_cast<QRgb*>(image.scanLine(i));
    for (int j = 0; j < m.cols; ++j) {
      const float v = m.at(i, j);
      line[j] = std::isfinite(v) ? viridis(scale.position(v)) : kMissingColour;
    }
  }
  return image;
}

}  // namespace performer::view
