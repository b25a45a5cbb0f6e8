#include "gui/figure_widget.h"

#include <QPainter>

#include <algorithm>

namespace performer::view {

FigureWidget::FigureWidget(QWidget* parent) : QWidget(parent) {
  setMinimumSize(200, 150);
  setAutoFillBackground(true);
  QPalette p = palette();
  p.setColor(QPalette::Window, Qt::white);
  setPalette(p);
}

void FigureWidget::set_figure(std::shared_ptr<const Figure> figure) {
  figure_ = std::move(figure);
  shown_ = false;
  update();
}

QTransform FigureWidget::figure_to_widget() const {
  if (!figure_) return {};
  const QSizeF f = figure_->size();
  const double s = std::min(width() / f.width(), height() / f.height());
  QTransform t;
  t.translate((width() - s * f.width()) / 2, (height() - s * f.height()) / 2);
  t.scale(s, s);
  return t;
}

void FigureWidget::paintEvent(QPaintEvent*) {
  if (!figure_) return;
  QPainter painter(this);
  painter.setRenderHint(QPainter::Antialiasing);
  painter.setRenderHint(QPainter::TextAntialiasing);
  painter.setTransform(figure_to_widget());
  figure_->paint(painter);
  paint_overlay(painter);
  if (!shown_) {
    shown_ = true;
    Q_EMIT figure_shown();
  }
}

}  // namespace performer::view
