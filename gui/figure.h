#pragma once
// A figure paints itself at its natural size on any QPainter, so one implementation serves the screen,
// PNG (QImage) and SVG (QSvgGenerator) alike.
#include <QPainter>
#include <QSize>

namespace performer::view {

class Figure {
 public:
  virtual ~Figure() = default;
  virtual QSize size() const = 0;                // in logical pixels (SVG user units)
  virtual void paint(QPainter& painter) const = 0;  // within QRect(QPoint(0, 0), size())
};

// The font every figure uses, sized in pixels: QImage (96 dpi) and QSvgGenerator (72 dpi) would
// otherwise draw the same point size at different sizes.
QFont figure_font(int pixel_size = 12);

}  // namespace performer::view
