#include "gui/grid_widget.h"

#include <QMouseEvent>
#include <QPainter>
#include <QToolTip>

namespace performer::view {

GridWidget::GridWidget(QWidget* parent) : FigureWidget(parent) {
  setMouseTracking(true);
  setToolTip("Click a tile to open that head in the large view");
}

void GridWidget::set_grid(std::shared_ptr<const GridFigure> grid) {
  grid_ = grid;
  set_figure(std::move(grid));
}

void GridWidget::set_selected(int layer, int head) {
  selected_layer_ = layer;
  selected_head_ = head;
  update();
}

int GridWidget::tile_under(const QPointF& widget_point) const {
  if (!grid_) return -1;
  return grid_->layout().tile_at(figure_to_widget().inverted().map(widget_point));
}

void GridWidget::mousePressEvent(QMouseEvent* event) {
  const int tile = tile_under(event->position());
  if (tile >= 0 && event->button() == Qt::LeftButton) Q_EMIT head_clicked(grid_->layer_of(tile), grid_->head_of(tile));
}

void GridWidget::mouseMoveEvent(QMouseEvent* event) {
  const int tile = tile_under(event->position());
  setCursor(tile >= 0 ? Qt::PointingHandCursor : Qt::ArrowCursor);
  if (tile >= 0) {
    QToolTip::showText(event->globalPosition().toPoint(),
                       QString("layer %1, head %2").arg(grid_->layer_of(tile)).arg(grid_->head_of(tile)), this);
  }
}

void GridWidget::paint_overlay(QPainter& painter) {
  if (!grid_) return;
  const GridLayout& l = grid_->layout();
  for (int tile = 0; tile < l.rows * l.cols; ++tile) {
    if (grid_->layer_of(tile) != selected_layer_ || grid_->head_of(tile) != selected_head_) continue;
    painter.setPen(QPen(QColor(220, 30, 30), 3));
    painter.setBrush(Qt::NoBrush);
    painter.drawRect(l.tile_rect(tile / l.cols, tile % l.cols).adjusted(-2, -2, 2, 2));
  }
}

}  // namespace performer::view
