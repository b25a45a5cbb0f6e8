#pragma once
// A model's amino-acid similarity matrix next to a substitution matrix (BLOSUM62), both ordered by
// residue group with lines between the groups, each with its own scale; for the attention methods a
// grid of each head's (or layer's) correlation with the reference; underneath, the correlation and the
// two controls.
#include "gui/figure.h"
#include "gui/matrix_plot.h"
#include "gui/view_data.h"

namespace performer::view {

class SimilarityFigure : public Figure {
 public:
  explicit SimilarityFigure(const SimilarityData& data, QSize size = QSize(1200, 600));
  QSize size() const override { return size_; }
  void paint(QPainter& painter) const override;

  // Two lines: "substitution vs BLOSUM62: Pearson r = 0.412, Spearman ρ = 0.377 (off-diagonal pairs; 100
  // sequences of set.fasta)" and "controls: untrained model r = ..., ρ = ...; shuffled residues r = ...".
  static QString correlation_text(const SimilarityData& data);

 private:
  MatrixPlot model_, reference_;
  std::vector<int> groups_;
  Matrix heads_;          // [layers, heads] or [layers, 1]; empty: no grid
  QString heads_title_;
  QString caption_;
  QSize size_;
};

}  // namespace performer::view
