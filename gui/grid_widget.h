#pragma once
// The layer x head grid on screen: click a tile to open that head in the large view; the open one is
// outlined; hovering names the tile.
#include "gui/figure_widget.h"
#include "gui/grid_figure.h"

namespace performer::view {

class GridWidget : public FigureWidget {
  Q_OBJECT
 public:
  explicit GridWidget(QWidget* parent = nullptr);

  void set_grid(std::shared_ptr<const GridFigure> grid);
  void set_selected(int layer, int head);  // outlined tile; -1: none

 Q_SIGNALS:
  void head_clicked(int layer, int head);

 protected:
  void mousePressEvent(QMouseEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void paint_overlay(QPainter& painter) override;

 private:
  int tile_under(const QPointF& widget_point) const;

  std::shared_ptr<const GridFigure> grid_;
  int selected_layer_ = -1, selected_head_ = -1;
};

}  // namespace performer::view
