#include "gui/similarity_tab.h"

#include <QComboBox>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>

#include "gui/figure_widget.h"

namespace performer::view {

SimilarityTab::SimilarityTab(QWidget* parent) : QWidget(parent) {
  fasta_ = new QLineEdit;
  fasta_->setPlaceholderText("FASTA file of the sequences to average over");
  auto* browse = new QPushButton("Browse…");
  connect(browse, &QPushButton::clicked, this, [this] {
    const QString path = QFileDialog::getOpenFileName(this, "Sequences for the similarity", fasta_->text(),
                                                      "FASTA (*.fasta *.fa *.faa *.fas *.gz *.bz2);;All files (*)");
    if (!path.isEmpty()) fasta_->setText(path);
  });
  n_ = new QSpinBox;
  n_->setRange(1, 1000000);
  n_->setToolTip("The first n sequences of the file");
  method_ = new QComboBox;
  method_->addItem("attention");
  method_->setItemData(0, "log2 odds of the attention mass between residue types (the Performer paper)", Qt::ToolTipRole);
  method_->addItem("attention-profile");
  method_->setItemData(1, "correlation across heads of the share of attention to each type (Vig et al.)", Qt::ToolTipRole);
  method_->addItem("substitution");
  method_->setItemData(2, "the model's predicted residue where the true one is a, as log-odds (like BLOSUM)",
                       Qt::ToolTipRole);
  method_->addItem("embedding");
  method_->setItemData(3, "cosine similarity of the input token embeddings (reads no sequences)", Qt::ToolTipRole);
  auto* compute = new QPushButton("Compute");
  connect(compute, &QPushButton::clicked, this,
          [this] { Q_EMIT compute_requested(fasta_->text(), n_->value(), method_->currentText()); });

  auto* controls = new QHBoxLayout;
  controls->addWidget(new QLabel("Method:"));
  controls->addWidget(method_);
  controls->addWidget(new QLabel("Sequences:"));
  controls->addWidget(fasta_, 1);
  controls->addWidget(browse);
  controls->addWidget(new QLabel("n:"));
  controls->addWidget(n_);
  controls->addWidget(compute);

  figure_widget_ = new FigureWidget;
  correlation_ = new QLabel("Choose a method and the sequences and press Compute: the residue similarity the "
                            "model learned, next to BLOSUM62, with an untrained and a shuffled control.");
  correlation_->setWordWrap(true);
  correlation_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(controls);
  layout->addWidget(figure_widget_, 1);
  layout->addWidget(correlation_);
}

void SimilarityTab::set_source(const QString& fasta, int n) {
  fasta_->setText(fasta);
  n_->setValue(n);
}

void SimilarityTab::set_data(std::shared_ptr<const SimilarityData> data) {
  data_ = std::move(data);
  figure_widget_->set_figure(std::make_shared<const SimilarityFigure>(*data_));
  correlation_->setText(SimilarityFigure::correlation_text(*data_));
}

void SimilarityTab::set_method(const QString& method) {
  const int index = method_->findText(method);
  if (index >= 0) method_->setCurrentIndex(index);
}

QString SimilarityTab::method() const { return method_->currentText(); }

std::shared_ptr<const Figure> SimilarityTab::figure() const { return figure_widget_->figure(); }

}  // namespace performer::view
