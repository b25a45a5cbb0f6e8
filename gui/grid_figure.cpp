#include "gui/grid_figure.h"

#include <QFontMetricsF>

#include <algorithm>
#include <cmath>

#include "core/errors.h"
#include "gui/heatmap.h"
#include "gui/legend.h"

namespace performer::view {
namespace {

std::vector<int> all_below(int count) {
  std::vector<int> v(static_cast<size_t>(count));
  for (int k = 0; k < count; ++k) v[k] = k;
  return v;
}

std::vector<int> checked(std::vector<int> indices, int count, const QString& what) {
  if (indices.empty()) return all_below(count);
  for (int k : indices) {
    if (k < 0 || k >= count) {
      throw InputError(QString("%1 %2 does not exist (the model has %3: 0-%4)")
                           .arg(what)
                           .arg(k)
                           .arg(count)
                           .arg(count - 1)
                           .toStdString());
    }
  }
  return indices;
}

}  // namespace

QRectF GridLayout::tile_rect(int row, int col) const {
  return QRectF(margin + left + col * (tile + gap), margin + top + row * (tile + gap), tile, tile);
}

int GridLayout::tile_at(const QPointF& point) const {
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      if (tile_rect(r, c).contains(point)) return r * cols + c;
    }
  }
  return -1;
}

QRectF GridLayout::tiles_area() const {
  return QRectF(margin + left, margin + top, cols * tile + (cols - 1) * gap, rows * tile + (rows - 1) * gap);
}

QSizeF GridLayout::size() const {
  const QRectF a = tiles_area();
  return QSizeF(a.right() + legend + margin, a.bottom() + margin);
}

GridFigure::GridFigure(std::shared_ptr<const AttentionData> data, std::vector<int> layers, std::vector<int> heads,
                       bool log_scale, int tile)
    : data_(std::move(data)),
      layers_(checked(std::move(layers), data_->layers, "layer")),
      heads_(checked(std::move(heads), data_->heads, "head")) {
  std::vector<const Matrix*> shown;
  for (int l : layers_) {
    for (int h : heads_) shown.push_back(&data_->map(l, h));
  }
  scale_ = ColourScale::fit(shown, log_scale);
  for (const Matrix* m : shown) tiles_.push_back(heatmap_image(downsample(*m, tile, tile), scale_));

  const QFont font = figure_font();
  const QFontMetricsF metrics(font);
  layout_.rows = static_cast<int>(layers_.size());
  layout_.cols = static_cast<int>(heads_.size());
  layout_.tile = tile;
  layout_.left = metrics.horizontalAdvance("layer 00") + 8;
  layout_.top = 2 * metrics.height() + 10;
  layout_.legend = 16 + legend_width(font);
}

QSize GridFigure::size() const { return layout_.size().toSize(); }

void GridFigure::paint(QPainter& painter) const {
  painter.save();
  painter.fillRect(QRectF(QPointF(0, 0), layout_.size()), Qt::white);
  painter.setFont(figure_font());
  painter.setPen(Qt::black);
  const QFontMetricsF metrics(painter.font());
  const double line = metrics.height();
  const double m = layout_.margin;
  const QString title = QString("%1 · %2 residues · %3 · %4 scale")
                            .arg(data_->id)
                            .arg(data_->length())
                            .arg(data_->model)
                            .arg(scale_.log ? "log" : "linear");
  painter.drawText(QRectF(m, m, layout_.size().width() - 2 * m, line), Qt::AlignLeft | Qt::AlignVCenter, title);
  for (int c = 0; c < layout_.cols; ++c) {
    const QRectF t = layout_.tile_rect(0, c);
    painter.drawText(QRectF(t.left(), t.top() - line - 4, t.width(), line), Qt::AlignCenter,
                     QString("head %1").arg(heads_[c]));
  }
  for (int r = 0; r < layout_.rows; ++r) {
    const QRectF t = layout_.tile_rect(r, 0);
    painter.drawText(QRectF(m, t.top(), layout_.left - 8, t.height()), Qt::AlignRight | Qt::AlignVCenter,
                     QString("layer %1").arg(layers_[r]));
  }
  // Smooth only when shrinking: a short sequence's few cells stay crisp squares.
  for (int r = 0; r < layout_.rows; ++r) {
    for (int c = 0; c < layout_.cols; ++c) {
      const QImage& image = tiles_[static_cast<size_t>(r) * layout_.cols + c];
      const QRectF t = layout_.tile_rect(r, c);
      painter.setRenderHint(QPainter::SmoothPixmapTransform, image.width() > t.width());
      painter.drawImage(t, image);
      painter.setPen(QPen(Qt::black, 0.5));
      painter.drawRect(t);
    }
  }
  const QRectF area = layout_.tiles_area();
  const double bar = std::min(area.height(), std::max(layout_.tile, 240.0));
  paint_legend(painter, QRectF(area.right() + 16, area.top(), legend_width(painter.font()), bar), scale_,
               "attention weight");
  painter.restore();
}

std::vector<int> parse_index_list(const QString& text, int count, const QString& what) {
  const QString t = text.trimmed();
  if (t.isEmpty() || t == "all") return all_below(count);
  std::vector<int> out;
  for (const QString& part : t.split(',', Qt::SkipEmptyParts)) {
    const QStringList range = part.split('-');
    bool ok_first = false, ok_last = false;
    const int first = range[0].trimmed().toInt(&ok_first);
    const int last = range.size() == 2 ? range[1].trimmed().toInt(&ok_last) : first;
    if (!ok_first || (range.size() == 2 && !ok_last) || range.size() > 2 || last < first) {
      throw InputError(QString("'%1' is not a list of %2 indices (e.g. 0,2 or 1-3)").arg(text, what).toStdString());
    }
    for (int k = first; k <= last; ++k) out.push_back(k);
  }
  return checked(out, count, what);
}

}  // namespace performer::view
