#include "gui/similarity_tab.h"

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
  auto* compute = new QPushButton("Compute");
  connect(compute, &QPushButton::clicked, this, [this] { Q_EMIT compute_requested(fasta_->text(), n_->value()); });

  auto* controls = new QHBoxLayout;
  controls->addWidget(new QLabel("Sequences:"));
  controls->addWidget(fasta_, 1);
  controls->addWidget(browse);
  controls->addWidget(new QLabel("n:"));
  controls->addWidget(n_);
  controls->addWidget(compute);

  figure_widget_ = new FigureWidget;
  correlation_ = new QLabel("Choose the sequences and press Compute: the residue similarity that attention "
                            "learned, next to BLOSUM62.");
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

std::shared_ptr<const Figure> SimilarityTab::figure() const { return figure_widget_->figure(); }

}  // namespace performer::view
