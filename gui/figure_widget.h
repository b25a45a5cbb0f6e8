#pragma once
// Shows a Figure scaled to fit the widget (aspect kept, centred). The grid and similarity views are
// figures; subclasses add interaction using the figure <-> widget mapping.
#include <QTransform>
#include <QWidget>

#include <memory>

#include "gui/figure.h"

namespace performer::view {

class FigureWidget : public QWidget {
  Q_OBJECT
 public:
  explicit FigureWidget(QWidget* parent = nullptr);

  void set_figure(std::shared_ptr<const Figure> figure);
  const std::shared_ptr<const Figure>& figure() const { return figure_; }
  // Figure coordinates -> widget coordinates, for the current size.
  QTransform figure_to_widget() const;

 Q_SIGNALS:
  // After the first paint of a newly set figure: what "shown" means for the timings.
  void figure_shown();

 protected:
  void paintEvent(QPaintEvent* event) override;
  // Drawn over the figure, in figure coordinates (selection marks).
  virtual void paint_overlay(QPainter& painter) { Q_UNUSED(painter); }

 private:
  std::shared_ptr<const Figure> figure_;
  bool shown_ = false;
};

}  // namespace performer::view
