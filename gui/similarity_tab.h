#pragma once
// The similarity tab: which method and sequences (a FASTA file, the first n), and the model's matrix
// beside the reference with their correlation, the controls and (attention methods) each head's. The computation itself is the main window's job (it holds the model).
#include <QWidget>

#include <memory>

#include "gui/similarity_figure.h"

class QComboBox;
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
  void set_method(const QString& method);  // one of the combo box's entries
  QString method() const;
  void set_data(std::shared_ptr<const SimilarityData> data);
  const std::shared_ptr<const SimilarityData>& data() const { return data_; }
  std::shared_ptr<const Figure> figure() const;

 Q_SIGNALS:
  void compute_requested(const QString& fasta, int n, const QString& method);

 private:
  QLineEdit* fasta_ = nullptr;
  QSpinBox* n_ = nullptr;
  QComboBox* method_ = nullptr;
  FigureWidget* figure_widget_ = nullptr;
  QLabel* correlation_ = nullptr;
  std::shared_ptr<const SimilarityData> data_;
};

}  // namespace performer::view
