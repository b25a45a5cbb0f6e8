#include "gui/legend.h"

#include <QFontMetricsF>
#include <QImage>

#include <algorithm>
#include <cmath>
#include <vector>

#include "gui/colour_map.h"

namespace performer::view {
namespace {

constexpr double kBarWidth = 14, kTick = 4, kPad = 4;

// Tick values: every decade of a log scale (at most ~6), else five evenly spaced values.
std::vector<double> ticks(const ColourScale& scale) {
  std::vector<double> out;
  if (scale.log) {
    const int first = static_cast<int>(std::ceil(std::log10(scale.low) - 1e-9));
    const int last = static_cast<int>(std::floor(std::log10(scale.high) + 1e-9));
    const int step = std::max(1, (last - first + 5) / 6);
    for (int e = first; e <= last; e += step) out.push_back(std::pow(10.0, e));
    if (out.empty()) out = {scale.low, scale.high};
  } else {
    for (int k = 0; k <= 4; ++k) out.push_back(scale.value(k / 4.0));
  }
  return out;
}

QString tick_label(double v) { return QString::number(v, 'g', 3); }

}  // namespace

double legend_width(const QFont& font) {
  const QFontMetricsF metrics(font);
  return kBarWidth + kTick + kPad + metrics.horizontalAdvance("-0.000e-00") + kPad + metrics.height();
}

void paint_legend(QPainter& painter, const QRectF& bar_area, const ColourScale& scale, const QString& title) {
  painter.save();
  const QFontMetricsF metrics(painter.font());
  const QRectF bar(bar_area.x(), bar_area.y(), kBarWidth, bar_area.height());
  QImage column(1, 256, QImage::Format_RGB32);
  for (int k = 0; k < 256; ++k) column.setPixel(0, 255 - k, viridis_table()[k]);
  painter.setRenderHint(QPainter::SmoothPixmapTransform, true);
  painter.drawImage(bar, column);
  painter.setPen(QPen(Qt::black, 0.8));
  painter.setBrush(Qt::NoBrush);
  painter.drawRect(bar);
  double label_right = bar.right();
  for (double v : ticks(scale)) {
    const double y = bar.bottom() - scale.position(v) * bar.height();
    painter.drawLine(QPointF(bar.right(), y), QPointF(bar.right() + kTick, y));
    const QString text = tick_label(v);
    const double x = bar.right() + kTick + kPad;
    painter.drawText(QPointF(x, y + metrics.ascent() / 2 - 1), text);
    label_right = std::max(label_right, x + metrics.horizontalAdvance(text));
  }
  // The title runs up the right-hand side of the tick labels.
  painter.translate(label_right + kPad + metrics.ascent(), bar.center().y());
  painter.rotate(-90);
  painter.drawText(QRectF(-bar.height() / 2, -metrics.ascent(), bar.height(), metrics.height()), Qt::AlignCenter,
                   title);
  painter.restore();
}

}  // namespace performer::view
