#include "gui/figure.h"

namespace performer::view {

QFont figure_font(int pixel_size) {
  QFont font("DejaVu Sans");
  font.setStyleHint(QFont::SansSerif);
  font.setPixelSize(pixel_size);
  return font;
}

}  // namespace performer::view
