#pragma once
// The amino-acid similarity learned by attention next to a substitution matrix (BLOSUM62), both in the
// same residue order, each with its own scale, and their off-diagonal correlation underneath.
#include "gui/figure.h"
#include "gui/matrix_plot.h"
#include "gui/view_data.h"

namespace performer::view {

class SimilarityFigure : public Figure {
 public:
  explicit SimilarityFigure(const SimilarityData& data, QSize size = QSize(1200, 580));
  QSize size() const override { return size_; }
  void paint(QPainter& painter) const override;

  // "Pearson r = 0.412, Spearman ρ = 0.377 (off-diagonal pairs, 100 sequences)"
  static QString correlation_text(const SimilarityData& data);

 private:
  MatrixPlot attention_, reference_;
  QString caption_;
  QSize size_;
};

}  // namespace performer::view
