#pragma once
// The similarity tab: which sequences (a FASTA file, the first n) and the two matrices side by side
// with their correlation. The computation itself is the main window's job (it holds the model).
#include <QWidget>

#include <memory>

#include "gui/similarity_figure.h"

class QLabel;
class QLineEdit;
class QSpinBox;

namespace performer::view {

class FigureWidget;

class SimilarityTab : public QWidget {
  Q_OBJECT
 public:
  explicit SimilarityTab(QWidget* parent = nullptr);

  void set_source(const QString& fasta, int n);
  void set_data(std::shared_ptr<const SimilarityData> data);
  const std::shared_ptr<const SimilarityData>& data() const { return data_; }
  std::shared_ptr<const Figure> figure() const;

 Q_SIGNALS:
  void compute_requested(const QString& fasta, int n);

 private:
  QLineEdit* fasta_ = nullptr;
  QSpinBox* n_ = nullptr;
  FigureWidget* figure_widget_ = nullptr;
  QLabel* correlation_ = nullptr;
  std::shared_ptr<const SimilarityData> data_;
};

}  // namespace performer::view
