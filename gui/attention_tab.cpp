#include "gui/attention_tab.h"

#include <QCheckBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QSplitter>
#include <QVBoxLayout>

#include "gui/grid_widget.h"
#include "gui/head_figure.h"
#include "gui/head_view.h"

namespace performer::view {

AttentionTab::AttentionTab(JobRunner& runner, QWidget* parent) : QWidget(parent), runner_(runner) {
  layers_ = new QLineEdit("all");
  heads_ = new QLineEdit("all");
  for (QLineEdit* e : {layers_, heads_}) {
    e->setMaximumWidth(120);
    e->setToolTip("all, a list (0,2) or a range (1-3); layers and heads count from 0");
    connect(e, &QLineEdit::editingFinished, this, &AttentionTab::rebuild_grid);
  }
  log_scale_ = new QCheckBox("log scale");
  log_scale_->setToolTip("Colour by log10 of the weight (four decades below the largest)");
  connect(log_scale_, &QCheckBox::toggled, this, [this] {
    rebuild_grid();
    if (head_view_->has_head()) show_head(head_view_->layer(), head_view_->head());
  });

  auto* controls = new QHBoxLayout;
  controls->addWidget(new QLabel("Layers:"));
  controls->addWidget(layers_);
  controls->addWidget(new QLabel("Heads:"));
  controls->addWidget(heads_);
  controls->addWidget(log_scale_);
  controls->addStretch();

  grid_widget_ = new GridWidget;
  head_view_ = new HeadView;
  readout_ = new QLabel(" ");
  readout_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  connect(grid_widget_, &GridWidget::head_clicked, this, &AttentionTab::show_head);
  connect(grid_widget_, &FigureWidget::figure_shown, this, &AttentionTab::grid_shown);
  connect(head_view_, &HeadView::hovered, this,
          [this](const QString& text) { readout_->setText(text.isEmpty() ? " " : text); });

  auto* right = new QWidget;
  auto* right_layout = new QVBoxLayout(right);
  right_layout->setContentsMargins(0, 0, 0, 0);
  right_layout->addWidget(head_view_, 1);
  right_layout->addWidget(readout_);
  auto* splitter = new QSplitter(Qt::Horizontal);
  splitter->addWidget(grid_widget_);
  splitter->addWidget(right);
  splitter->setSizes({1000, 1000});  // half each: the large view needs room for its labels

  auto* layout = new QVBoxLayout(this);
  layout->addLayout(controls);
  layout->addWidget(splitter, 1);
}

void AttentionTab::set_data(std::shared_ptr<const AttentionData> data) {
  data_ = std::move(data);
  rebuild_grid();
  const bool keep = head_view_->has_head() && head_view_->layer() < data_->layers && head_view_->head() < data_->heads;
  show_head(keep ? head_view_->layer() : 0, keep ? head_view_->head() : 0);
}

void AttentionTab::set_selection(const QString& layers, const QString& heads, bool log_scale) {
  layers_->setText(layers);
  heads_->setText(heads);
  const QSignalBlocker block(log_scale_);  // set_data follows and draws once
  log_scale_->setChecked(log_scale);
}

void AttentionTab::rebuild_grid() {
  if (!data_) return;
  auto data = data_;
  const QString layers = layers_->text(), heads = heads_->text();
  const bool log = log_scale_->isChecked();
  runner_.start("grid", "drawing the grid", [this, data, layers, heads, log](const JobControl&) -> JobRunner::Deliver {
    auto grid = std::make_shared<const GridFigure>(data, parse_index_list(layers, data->layers, "layer"),
                                                   parse_index_list(heads, data->heads, "head"), log);
    return [this, grid] {
      grid_ = grid;
      grid_widget_->set_grid(grid);
    };
  });
}

void AttentionTab::show_head(int layer, int head) {
  if (!data_) return;
  auto data = data_;
  const bool log = log_scale_->isChecked();
  grid_widget_->set_selected(layer, head);
  runner_.start("head", "drawing the head", [this, data, layer, head, log](const JobControl&) -> JobRunner::Deliver {
    auto plot = std::make_shared<MatrixPlot>(head_plot(*data, layer, head, log));
    return [this, data, layer, head, plot] { head_view_->set_head(data, layer, head, std::move(*plot)); };
  });
}

}  // namespace performer::view
