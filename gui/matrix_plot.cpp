#include "gui/matrix_plot.h"

#include <QFontMetricsF>

#include <algorithm>
#include <cmath>

#include "gui/legend.h"

namespace performer::view {
namespace {

constexpr double kPad = 6, kTick = 3;

// Smallest of 1, 2, 5, 10, 20, 50, ... cells between labels that keeps them `spacing` pixels apart.
int label_step(double pixels_per_cell, double spacing) {
  for (int decade = 1;; decade *= 10) {
    for (int m : {1, 2, 5}) {
      if (m * decade * pixels_per_cell >= spacing || m * decade >= 1000000) return m * decade;
    }
  }
}

}  // namespace

QString longest_label(const QStringList& labels) {
  QString longest;
  for (const QString& l : labels) {
    if (l.size() > longest.size()) longest = l;
  }
  return longest;
}

MatrixPlotLayout layout_matrix_plot(const QRectF& area, const QFont& font, const QString& longest) {
  const QFontMetricsF metrics(font);
  const double line = metrics.height();
  const double label_room = metrics.horizontalAdvance(longest + "0") + kTick + kPad;  // tick labels
  const double left = line + kPad + label_room;    // axis title + labels
  const double bottom = label_room + line + kPad;  // rotated labels + axis title
  const double top = line * 1.5 + kPad;
  const double right = legend_width(font) + 2 * kPad;
  const double side = std::max(10.0, std::min(area.width() - left - right, area.height() - top - bottom));
  MatrixPlotLayout l;
  l.title = QRectF(area.x(), area.y(), area.width(), line * 1.5);
  l.plot = QRectF(area.x() + left, area.y() + top, side, side);
  l.legend = QRectF(l.plot.right() + 2 * kPad, l.plot.y(), legend_width(font), side);
  return l;
}

void paint_matrix_plot(QPainter& painter, const MatrixPlotLayout& l, const MatrixPlot& p) {
  painter.save();
  const QFontMetricsF metrics(painter.font());
  const double line = metrics.height();
  const QFont regular = painter.font();
  QFont bold = regular;
  bold.setBold(true);
  painter.setFont(bold);
  painter.setPen(Qt::black);
  painter.drawText(l.title, Qt::AlignLeft | Qt::AlignVCenter, p.title);
  painter.setFont(regular);

  // Whole cells of the window, cropped from the image (SVG then embeds only what is seen), drawn so that
  // the window's fractional edges fall on the plot's edges.
  const QRectF w = p.window;
  const int col0 = std::max(0, static_cast<int>(std::floor(w.left())));
  const int row0 = std::max(0, static_cast<int>(std::floor(w.top())));
  const int col1 = std::min(p.image.width(), static_cast<int>(std::ceil(w.right())));
  const int row1 = std::min(p.image.height(), static_cast<int>(std::ceil(w.bottom())));
  const double sx = l.plot.width() / w.width(), sy = l.plot.height() / w.height();
  if (col1 > col0 && row1 > row0) {
    const QRectF target(l.plot.x() + (col0 - w.left()) * sx, l.plot.y() + (row0 - w.top()) * sy, (col1 - col0) * sx,
                        (row1 - row0) * sy);
    painter.setClipRect(l.plot);
    // Nearest neighbour while cells are at least a pixel (crisp cell edges); smooth below that.
    painter.setRenderHint(QPainter::SmoothPixmapTransform, sx < 1);
    painter.drawImage(target, p.image.copy(col0, row0, col1 - col0, row1 - row0));
    painter.setClipping(false);
  }
  painter.setPen(QPen(Qt::black, 0.8));
  painter.drawRect(l.plot);

  // Labels at cell centres, every `step` cells (numbered from the first cell so "1, 10, 20" reads well
  // for residue numbers).
  const int step = label_step(std::min(sx, sy), line * 1.1);
  const int count = static_cast<int>(p.labels.size());
  for (int k = 0; k < count; ++k) {
    if (step > 1 && (k + 1) % step != 0 && k != 0) continue;
    const double cx = l.plot.x() + (k + 0.5 - w.left()) * sx, cy = l.plot.y() + (k + 0.5 - w.top()) * sy;
    if (cy >= l.plot.top() && cy <= l.plot.bottom()) {
      painter.drawLine(QPointF(l.plot.left() - kTick, cy), QPointF(l.plot.left(), cy));
      painter.drawText(QRectF(l.plot.left() - kTick - 200 - 2, cy - line / 2, 200, line),
                       Qt::AlignRight | Qt::AlignVCenter, p.labels[k]);
    }
    if (cx >= l.plot.left() && cx <= l.plot.right()) {
      painter.drawLine(QPointF(cx, l.plot.bottom()), QPointF(cx, l.plot.bottom() + kTick));
      painter.save();
      painter.translate(cx, l.plot.bottom() + kTick + 2);
      painter.rotate(-90);
      painter.drawText(QRectF(-200, -line / 2, 200, line), Qt::AlignRight | Qt::AlignVCenter, p.labels[k]);
      painter.restore();
    }
  }

  // Axis titles: below the column labels, and up the left of the row labels.
  const double label_room = metrics.horizontalAdvance(longest_label(p.labels) + "0") + kTick + kPad;
  painter.drawText(QRectF(l.plot.left(), l.plot.bottom() + label_room, l.plot.width(), line), Qt::AlignCenter,
                   p.col_title);
  painter.save();
  painter.translate(l.plot.left() - label_room - kPad, l.plot.center().y());
  painter.rotate(-90);
  painter.drawText(QRectF(-l.plot.height() / 2, -line, l.plot.height(), line), Qt::AlignCenter, p.row_title);
  painter.restore();

  paint_legend(painter, l.legend, p.scale, p.value_title);
  painter.restore();
}

std::optional<std::pair<int, int>> cell_at(const MatrixPlotLayout& l, const QRectF& window, const QPointF& point) {
  if (!l.plot.contains(point)) return std::nullopt;
  const double col = window.left() + (point.x() - l.plot.left()) / l.plot.width() * window.width();
  const double row = window.top() + (point.y() - l.plot.top()) / l.plot.height() * window.height();
  if (col < 0 || row < 0) return std::nullopt;
  return std::pair<int, int>(static_cast<int>(row), static_cast<int>(col));
}

}  // namespace performer::view
