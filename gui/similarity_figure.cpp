#include "gui/similarity_figure.h"

#include <QFileInfo>
#include <QFontMetricsF>

#include <algorithm>
#include <cmath>

#include "gui/colour_map.h"
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

QString value_title(const QString& method) {
  if (method == "attention") return "log2 attention share / key share";
  if (method == "attention-profile") return "correlation across heads";
  if (method == "substitution") return "log2 predicted / background";
  if (method == "embedding") return "cosine of embeddings";
  return "similarity";
}

QString r(double v) { return std::isfinite(v) ? QString::number(v, 'f', 3) : QString("n/a"); }

// White lines between residue groups, over a plot of the whole matrix.
void paint_group_lines(QPainter& painter, const QRectF& plot, const std::vector<int>& groups, int cells) {
  if (groups.empty() || cells <= 0) return;
  painter.save();
  painter.setPen(QPen(Qt::white, 2));
  const double cell = plot.width() / cells;
  int at = 0;
  for (size_t g = 0; g + 1 < groups.size(); ++g) {
    at += groups[g];
    const double x = plot.left() + at * cell, y = plot.top() + at * cell;
    painter.drawLine(QPointF(x, plot.top()), QPointF(x, plot.bottom()));
    painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y));
  }
  painter.restore();
}

// A small table of correlations, one cell per layer (rows) and head (columns), coloured on [-1, 1].
void paint_head_grid(QPainter& painter, const QRectF& area, const Matrix& heads, const QString& title) {
  const double line = QFontMetricsF(painter.font()).height();
  painter.drawText(QRectF(area.left(), area.top(), area.width(), 2 * line), Qt::AlignLeft | Qt::TextWordWrap, title);
  const double label = QFontMetricsF(painter.font()).horizontalAdvance("L00 ");
  const double cell = std::min({48.0, (area.width() - label) / std::max(heads.cols, 1),
                                (area.height() - 3 * line) / std::max(heads.rows, 1)});
  const QPointF origin(area.left() + label, area.top() + 3 * line);
  for (int h = 0; h < heads.cols; ++h) {
    const QString name = heads.cols == 1 ? QString("all") : QString("H%1").arg(h);
    painter.drawText(QRectF(origin.x() + h * cell, origin.y() - line, cell, line), Qt::AlignCenter, name);
  }
  for (int l = 0; l < heads.rows; ++l) {
    painter.drawText(QRectF(area.left(), origin.y() + l * cell, label, cell), Qt::AlignLeft | Qt::AlignVCenter,
                     QString("L%1").arg(l));
    for (int h = 0; h < heads.cols; ++h) {
      const double v = heads.at(l, h);
      const QRectF box(origin.x() + h * cell, origin.y() + l * cell, cell - 1, cell - 1);
      const double t = (v + 1) / 2;
      painter.fillRect(box, std::isfinite(v) ? QColor(viridis(t)) : QColor(kMissingColour));
      painter.setPen(std::isfinite(v) && t > 0.6 ? Qt::black : Qt::white);
      painter.drawText(box, Qt::AlignCenter, std::isfinite(v) ? QString::number(v, 'f', 2) : QString("–"));
      painter.setPen(Qt::black);
    }
  }
  painter.drawText(QRectF(area.left(), origin.y() + heads.rows * cell + 4, area.width(), 2 * line),
                   Qt::AlignLeft | Qt::TextWordWrap, "colour: Pearson r from −1 (purple) to 1 (yellow)");
}

}  // namespace

SimilarityFigure::SimilarityFigure(const SimilarityData& data, QSize size)
    : model_(plot_of(data.matrix, data.order, data.method + " (" + data.model + ")", value_title(data.method))),
      reference_(plot_of(data.reference, data.order, data.reference_name.toUpper(), "substitution score")),
      groups_(data.groups),
      heads_(data.heads),
      heads_title_(data.heads.cols == 1 ? "each layer (across its heads) vs " + data.reference_name.toUpper()
                                        : "each head vs " + data.reference_name.toUpper()),
      caption_(correlation_text(data)),
      size_(size) {}

QString SimilarityFigure::correlation_text(const SimilarityData& data) {
  QString first = QString("%1 vs %2: Pearson r = %3, Spearman ρ = %4 (off-diagonal pairs")
                      .arg(data.method, data.reference_name.toUpper(), r(data.pearson), r(data.spearman));
  if (data.sequences > 0) first += QString("; %1 sequences of %2").arg(data.sequences).arg(QFileInfo(data.source).fileName());
  first += ")";
  QStringList controls;
  if (std::isfinite(data.untrained.pearson))
    controls << QString("untrained model r = %1, ρ = %2").arg(r(data.untrained.pearson), r(data.untrained.spearman));
  if (std::isfinite(data.shuffled.pearson))
    controls << QString("shuffled residues r = %1, ρ = %2").arg(r(data.shuffled.pearson), r(data.shuffled.spearman));
  return controls.isEmpty() ? first : first + "\ncontrols: " + controls.join("; ");
}

void SimilarityFigure::paint(QPainter& painter) const {
  painter.save();
  painter.fillRect(QRect(QPoint(0, 0), size_), Qt::white);
  painter.setFont(figure_font());
  painter.setPen(Qt::black);
  const double line = QFontMetricsF(painter.font()).height();
  const double grid_width = heads_.rows > 0 ? 240 : 0;
  const double half = (size_.width() - grid_width) / 2.0;
  const double plots_height = size_.height() - 3 * line - 12;
  for (int k = 0; k < 2; ++k) {
    const MatrixPlot& p = k == 0 ? model_ : reference_;
    const QRectF area(k * half + 12, 12, half - 24, plots_height - 12);
    const MatrixPlotLayout layout = layout_matrix_plot(area, painter.font(), longest_label(p.labels));
    paint_matrix_plot(painter, layout, p);
    paint_group_lines(painter, layout.plot, groups_, static_cast<int>(p.labels.size()));
  }
  if (heads_.rows > 0)
    paint_head_grid(painter, QRectF(2 * half + 4, 12, grid_width - 16, plots_height - 12), heads_, heads_title_);
  painter.drawText(QRectF(12, plots_height, size_.width() - 24, 3 * line), Qt::AlignLeft | Qt::AlignVCenter, caption_);
  painter.restore();
}

}  // namespace performer::view
