#include "gui/head_figure.h"

#include "core/errors.h"
#include "gui/heatmap.h"

namespace performer::view {

QStringList residue_labels(const QString& residues) {
  QStringList labels;
  labels.reserve(residues.size());
  for (int i = 0; i < residues.size(); ++i) labels << QString("%1%2").arg(residues[i]).arg(i + 1);
  return labels;
}

void check_head(const AttentionData& data, int layer, int head) {
  if (layer < 0 || layer >= data.layers || head < 0 || head >= data.heads) {
    throw InputError(QString("layer %1, head %2 does not exist (the model has %3 layers x %4 heads)")
                         .arg(layer)
                         .arg(head)
                         .arg(data.layers)
                         .arg(data.heads)
                         .toStdString());
  }
}

MatrixPlot head_plot(const AttentionData& data, int layer, int head, bool log_scale) {
  check_head(data, layer, head);
  const Matrix& m = data.map(layer, head);
  MatrixPlot p;
  p.scale = ColourScale::fit({&m}, log_scale);
  p.image = heatmap_image(m, p.scale);
  p.window = QRectF(0, 0, m.cols, m.rows);
  p.labels = residue_labels(data.residues);
  p.title = QString("%1 · layer %2, head %3").arg(data.id).arg(layer).arg(head);
  p.row_title = "query residue i";
  p.col_title = "key residue j";
  p.value_title = log_scale ? "attention weight (log scale)" : "attention weight";
  return p;
}

HeadFigure::HeadFigure(MatrixPlot plot, QSize size) : plot_(std::move(plot)), size_(size) {}

void HeadFigure::paint(QPainter& painter) const {
  painter.save();
  painter.fillRect(QRect(QPoint(0, 0), size_), Qt::white);
  painter.setFont(figure_font());
  const QRectF area = QRectF(QPointF(0, 0), size_).adjusted(12, 12, -12, -12);
  paint_matrix_plot(painter, layout_matrix_plot(area, painter.font(), longest_label(plot_.labels)), plot_);
  painter.restore();
}

}  // namespace performer::view
