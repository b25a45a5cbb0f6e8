#pragma once
// One head's attention map, large: residue labels on both axes ("K15": letter and 1-based position, as
// in UniProt), a window of it when zoomed, and its own colour scale.
#include "gui/figure.h"
#include "gui/matrix_plot.h"
#include "gui/view_data.h"

namespace performer::view {

// "M1", "K2", ... for each residue.
QStringList residue_labels(const QString& residues);

// InputError unless the data has this layer and head.
void check_head(const AttentionData& data, int layer, int head);

// The plot of (layer, head), the whole map in view. Throws InputError for a layer or head out of range.
MatrixPlot head_plot(const AttentionData& data, int layer, int head, bool log_scale);

class HeadFigure : public Figure {
 public:
  explicit HeadFigure(MatrixPlot plot, QSize size = QSize(900, 820));
  QSize size() const override { return size_; }
  void paint(QPainter& painter) const override;

 private:
  MatrixPlot plot_;
  QSize size_;
};

}  // namespace performer::view
