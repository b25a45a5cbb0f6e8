#pragma once
// One head, large: wheel zooms about the pointer, dragging pans, a double click shows the whole map;
// hovering reports (i, residue, j, residue, weight). Labels follow the zoom (every residue once there
// is room). Draws through the same matrix plot as the exported head figure.
#include <QWidget>

#include <memory>

#include "gui/matrix_plot.h"
#include "gui/view_data.h"

namespace performer::view {

class HeadView : public QWidget {
  Q_OBJECT
 public:
  explicit HeadView(QWidget* parent = nullptr);

  // plot: head_plot(*data, layer, head, ...), built off the GUI thread.
  void set_head(std::shared_ptr<const AttentionData> data, int layer, int head, MatrixPlot plot);

  bool has_head() const { return data_ != nullptr; }
  int layer() const { return layer_; }
  int head() const { return head_; }
  const std::shared_ptr<const AttentionData>& data() const { return data_; }
  // The plot as seen now (its window is the current zoom), for export.
  const MatrixPlot& current_plot() const { return plot_; }

 Q_SIGNALS:
  void hovered(const QString& readout);  // empty when the pointer leaves the map

 protected:
  void paintEvent(QPaintEvent* event) override;
  void wheelEvent(QWheelEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void mouseReleaseEvent(QMouseEvent* event) override;
  void mouseDoubleClickEvent(QMouseEvent* event) override;
  void leaveEvent(QEvent* event) override;

 private:
  MatrixPlotLayout current_layout() const;
  void set_window(QRectF window);  // clamped to the map, at least kMinCells on a side
  void report_hover(const QPointF& point);

  static constexpr double kMinCells = 4;
  std::shared_ptr<const AttentionData> data_;
  int layer_ = -1, head_ = -1;
  MatrixPlot plot_;
  QString longest_label_;
  std::optional<std::pair<int, int>> hover_;  // (row, column) under the pointer
  std::optional<QPointF> drag_from_;          // pointer position where the current drag started
  QRectF drag_window_;                        // the window when it started
};

}  // namespace performer::view
