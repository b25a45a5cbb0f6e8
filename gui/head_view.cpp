#include "gui/head_view.h"

#include <QMouseEvent>
#include <QPainter>
#include <QWheelEvent>

#include <algorithm>
#include <cmath>

#include "gui/figure.h"

namespace performer::view {

HeadView::HeadView(QWidget* parent) : QWidget(parent) {
  setMouseTracking(true);
  setMinimumSize(300, 300);
  setToolTip("Wheel: zoom · drag: pan · double click: whole map");
}

void HeadView::set_head(std::shared_ptr<const AttentionData> data, int layer, int head, MatrixPlot plot) {
  // A new head of the same sequence keeps the zoom, so heads can be compared at one place.
  const bool same_sequence = data_ && data && data_->residues == data->residues;
  const QRectF window = plot_.window;
  data_ = std::move(data);
  layer_ = layer;
  head_ = head;
  plot_ = std::move(plot);
  longest_label_ = longest_label(plot_.labels);
  if (same_sequence) plot_.window = window;
  hover_.reset();
  update();
}

MatrixPlotLayout HeadView::current_layout() const {
  return layout_matrix_plot(QRectF(rect()).adjusted(8, 8, -8, -8), figure_font(), longest_label_);
}

void HeadView::paintEvent(QPaintEvent*) {
  QPainter painter(this);
  painter.fillRect(rect(), Qt::white);
  painter.setFont(figure_font());
  if (!data_) {
    painter.drawText(rect(), Qt::AlignCenter, "Click a tile of the grid to open that head here");
    return;
  }
  painter.setRenderHint(QPainter::TextAntialiasing);
  const MatrixPlotLayout layout = current_layout();
  paint_matrix_plot(painter, layout, plot_);
  if (hover_) {
    // The hovered cell's row and column, outlined.
    const QRectF& w = plot_.window;
    const double sx = layout.plot.width() / w.width(), sy = layout.plot.height() / w.height();
    const auto [row, col] = *hover_;
    painter.setClipRect(layout.plot);
    painter.setPen(QPen(QColor(255, 255, 255, 160), 1, Qt::DashLine));
    painter.drawLine(QPointF(layout.plot.left(), layout.plot.top() + (row + 0.5 - w.top()) * sy),
                     QPointF(layout.plot.right(), layout.plot.top() + (row + 0.5 - w.top()) * sy));
    painter.drawLine(QPointF(layout.plot.left() + (col + 0.5 - w.left()) * sx, layout.plot.top()),
                     QPointF(layout.plot.left() + (col + 0.5 - w.left()) * sx, layout.plot.bottom()));
  }
}

void HeadView::set_window(QRectF w) {
  if (!data_) return;
  const double n = data_->length();
  const double side = std::clamp(std::max(w.width(), w.height()), std::min(kMinCells, n), n);
  const double x = std::clamp(w.center().x() - side / 2, 0.0, n - side);
  const double y = std::clamp(w.center().y() - side / 2, 0.0, n - side);
  plot_.window = QRectF(x, y, side, side);
  update();
}

void HeadView::wheelEvent(QWheelEvent* event) {
  if (!data_) return;
  const MatrixPlotLayout layout = current_layout();
  const QRectF& w = plot_.window;
  // The cell under the pointer stays under the pointer.
  const QPointF p = event->position();
  const double fx = std::clamp((p.x() - layout.plot.left()) / layout.plot.width(), 0.0, 1.0);
  const double fy = std::clamp((p.y() - layout.plot.top()) / layout.plot.height(), 0.0, 1.0);
  const double factor = std::pow(1.25, -event->angleDelta().y() / 120.0);
  const double side = std::clamp(w.width() * factor, std::min(kMinCells, double(data_->length())),
                                 double(data_->length()));
  const double ax = w.left() + fx * w.width(), ay = w.top() + fy * w.height();
  const double x = std::clamp(ax - fx * side, 0.0, data_->length() - side);
  const double y = std::clamp(ay - fy * side, 0.0, data_->length() - side);
  plot_.window = QRectF(x, y, side, side);
  update();
  report_hover(p);
  event->accept();
}

void HeadView::mousePressEvent(QMouseEvent* event) {
  if (event->button() != Qt::LeftButton || !data_) return;
  drag_from_ = event->position();
  drag_window_ = plot_.window;
  setCursor(Qt::ClosedHandCursor);
}

void HeadView::mouseMoveEvent(QMouseEvent* event) {
  if (drag_from_) {
    const MatrixPlotLayout layout = current_layout();
    const QPointF d = event->position() - *drag_from_;
    const double cells_per_pixel = drag_window_.width() / layout.plot.width();
    set_window(drag_window_.translated(-d.x() * cells_per_pixel, -d.y() * cells_per_pixel));
  }
  report_hover(event->position());
}

void HeadView::mouseReleaseEvent(QMouseEvent*) {
  drag_from_.reset();
  unsetCursor();
}

void HeadView::mouseDoubleClickEvent(QMouseEvent*) {
  if (!data_) return;
  set_window(QRectF(0, 0, data_->length(), data_->length()));
}

void HeadView::leaveEvent(QEvent*) {
  hover_.reset();
  update();
  Q_EMIT hovered({});
}

void HeadView::report_hover(const QPointF& point) {
  if (!data_) return;
  auto cell = cell_at(current_layout(), plot_.window, point);
  if (cell && (cell->first >= data_->length() || cell->second >= data_->length())) cell.reset();
  if (cell == hover_) return;
  hover_ = cell;
  update();
  if (!cell) {
    Q_EMIT hovered({});
    return;
  }
  const auto [i, j] = *cell;
  const float weight = data_->map(layer_, head_).at(i, j);
  Q_EMIT hovered(QString("layer %1, head %2 · i %3 (%4) → j %5 (%6): weight %7")
                     .arg(layer_)
                     .arg(head_)
                     .arg(i + 1)
                     .arg(data_->residues[i])
                     .arg(j + 1)
                     .arg(data_->residues[j])
                     .arg(weight, 0, 'g', 4));
}

}  // namespace performer::view
