#include "gui/similarity_figure.h"

#include <QFileInfo>
#include <QFontMetricsF>

#include "gui/heatmap.h"

namespace performer::view {
namespace {

MatrixPlot plot_of(const Matrix& m, const QString& order, const QString& title, const QString& value_title) {
  MatrixPlot p;
  p.scale = ColourScale::fit({&m}, false);
  p.image = heatmap_image(m, p.scale);
  p.window = QRectF(0, 0, m.cols, m.rows);
  for (QChar c : order) p.labels << QString(c);
  p.title = title;
  p.row_title = "residue type";
  p.col_title = "residue type";
  p.value_title = value_title;
  return p;
}

}  // namespace

SimilarityFigure::SimilarityFigure(const SimilarityData& data, QSize size)
    : attention_(plot_of(data.attention, data.order, "from attention (" + data.model + ")",
                         "log2 attention share / key share")),
      reference_(plot_of(data.reference, data.order, data.reference_name.toUpper(), "substitution score")),
      caption_(correlation_text(data)),
      size_(size) {}

QString SimilarityFigure::correlation_text(const SimilarityData& data) {
  return QString("%1 vs %2: Pearson r = %3, Spearman ρ = %4 (off-diagonal pairs; %5 sequences of %6)")
      .arg("attention similarity", data.reference_name.toUpper())
      .arg(data.pearson, 0, 'f', 3)
      .arg(data.spearman, 0, 'f', 3)
      .arg(data.sequences)
      .arg(QFileInfo(data.source).fileName());
}

void SimilarityFigure::paint(QPainter& painter) const {
  painter.save();
  painter.fillRect(QRect(QPoint(0, 0), size_), Qt::white);
  painter.setFont(figure_font());
  painter.setPen(Qt::black);
  const double line = QFontMetricsF(painter.font()).height();
  const double half = size_.width() / 2.0;
  const double plots_height = size_.height() - 2 * line - 12;
  for (int k = 0; k < 2; ++k) {
    const MatrixPlot& p = k == 0 ? attention_ : reference_;
    const QRectF area(k * half + 12, 12, half - 24, plots_height - 12);
    paint_matrix_plot(painter, layout_matrix_plot(area, painter.font(), longest_label(p.labels)), p);
  }
  painter.drawText(QRectF(12, plots_height, size_.width() - 24, 2 * line), Qt::AlignLeft | Qt::AlignVCenter,
                   caption_);
  painter.restore();
}

}  // namespace performer::view
