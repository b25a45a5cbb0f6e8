#include "gui/main_window.h"

#include <QApplication>
#include <QComboBox>
#include <QDragEnterEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QInputDialog>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QPushButton>
#include <QStatusBar>
#include <QTabWidget>
#include <QTimer>
#include <QToolBar>

#include <cstdio>

#include "gui/attention_tab.h"
#include "gui/export.h"
#include "gui/head_figure.h"
#include "gui/head_view.h"
#include "gui/similarity_tab.h"

namespace performer::view {
namespace {

bool is_checkpoint(const QString& path) {
  const QString suffix = QFileInfo(path).suffix().toLower();
  return suffix == "pt" || suffix == "pth" || suffix == "ckpt";
}

}  // namespace

MainWindow::MainWindow(const ViewOptions& options, QWidget* parent) : QMainWindow(parent), options_(options) {
  setWindowTitle("performer-view");
  setAcceptDrops(true);
  resize(1500, 900);

  attention_tab_ = new AttentionTab(runner_);
  attention_tab_->set_selection(options_.layers, options_.heads, options_.log_scale);
  similarity_tab_ = new SimilarityTab;
  similarity_tab_->set_source(default_similarity_fasta(), options_.n);
  similarity_tab_->set_method(options_.method);
  tabs_ = new QTabWidget;
  tabs_->addTab(attention_tab_, "Attention");
  tabs_->addTab(similarity_tab_, "Similarity");
  setCentralWidget(tabs_);

  records_box_ = new QComboBox;
  records_box_->setMinimumContentsLength(40);
  records_box_->setToolTip("Record of the open FASTA file");
  connect(records_box_, &QComboBox::activated, this, [this](int index) {
    if (index >= 0 && index < static_cast<int>(records_.size())) set_sequence(records_[index]);
  });
  auto* toolbar = addToolBar("Sequence");
  toolbar->setMovable(false);
  toolbar->addWidget(new QLabel(" Record: "));
  toolbar->addWidget(records_box_);

  model_label_ = new QLabel("no checkpoint (File > Open checkpoint, or drop a .pt file here)");
  progress_ = new QProgressBar;
  progress_->setMaximumWidth(220);
  progress_->setVisible(false);
  cancel_ = new QPushButton("Cancel");
  cancel_->setVisible(false);
  connect(cancel_, &QPushButton::clicked, this, [this] {
    runner_.cancel_all();
    statusBar()->showMessage("cancelled", 4000);
  });
  statusBar()->addPermanentWidget(model_label_);
  statusBar()->addPermanentWidget(progress_);
  statusBar()->addPermanentWidget(cancel_);
  connect(&runner_, &JobRunner::busy_changed, this, [this](bool busy) {
    progress_->setVisible(busy);
    cancel_->setVisible(busy);
  });
  connect(&runner_, &JobRunner::progress, this,
          [this](const QString& label, int done, int total, const QString& stage) {
            progress_->setRange(0, total);  // 0..0: a busy indicator
            progress_->setValue(done);
            progress_->setFormat(label + ": %p%");
            statusBar()->showMessage(label + (stage.isEmpty() ? "" : " · " + stage));
          });
  connect(&runner_, &JobRunner::failed, this, &MainWindow::show_error);
  connect(attention_tab_, &AttentionTab::grid_shown, this, &MainWindow::on_grid_shown);
  connect(similarity_tab_, &SimilarityTab::compute_requested, this, &MainWindow::compute_similarity);
  build_menus();

  if (!options_.sequence.isEmpty()) {
    try {
      set_sequence(parse_pasted(options_.sequence));
    } catch (const std::exception& e) {
      show_error("--sequence", e.what());
    }
  } else {
    const QString fasta = options_.fasta.isEmpty() ? default_example_fasta() : options_.fasta;
    if (!fasta.isEmpty()) open_fasta(fasta, options_.record);
  }
  if (!options_.model.isEmpty()) open_model(options_.model);
}

void MainWindow::build_menus() {
  QMenu* file = menuBar()->addMenu("&File");
  file->addAction("Open &checkpoint…", QKeySequence::Open, this, [this] {
    const QString path = QFileDialog::getOpenFileName(this, "Open checkpoint", {}, "Checkpoints (*.pt);;All files (*)");
    if (!path.isEmpty()) open_model(path);
  });
  file->addAction("Open &FASTA…", QKeySequence("Ctrl+Shift+O"), this, [this] {
    const QString path = QFileDialog::getOpenFileName(this, "Open FASTA", {},
                                                      "FASTA (*.fasta *.fa *.faa *.fas *.gz *.bz2);;All files (*)");
    if (!path.isEmpty()) open_fasta(path);
  });
  file->addAction("&Paste sequence…", QKeySequence("Ctrl+Shift+V"), this, &MainWindow::paste_sequence);
  file->addSeparator();
  file->addAction("&Export figure (PNG/SVG)…", QKeySequence("Ctrl+E"), this, [this] { export_figure(false); });
  file->addAction("Export &grid (PNG/SVG)…", QKeySequence("Ctrl+Shift+E"), this, [this] { export_figure(true); });
  file->addAction("Export &numbers (CSV)…", QKeySequence("Ctrl+Shift+C"), this, &MainWindow::export_csv);
  file->addSeparator();
  file->addAction("&Quit", QKeySequence::Quit, this, &QWidget::close);
}

void MainWindow::open_model(const QString& path) {
  runner_.start("model", "loading " + QFileInfo(path).fileName(), [this, path](const JobControl&) -> JobRunner::Deliver {
    auto model = LoadedModel::load(path);
    return [this, model] {
      model_ = model;
      model_label_->setText(QFileInfo(model_->path()).fileName() + " · " + model_->description());
      compute_attention();
    };
  });
}

void MainWindow::open_fasta(const QString& path, const QString& record) {
  runner_.start("fasta", "reading " + QFileInfo(path).fileName(),
                [this, path, record](const JobControl& control) -> JobRunner::Deliver {
                  auto records = std::make_shared<std::vector<SequenceInput>>(read_fasta(path, 100000, control));
                  const SequenceInput chosen = record.isEmpty() ? records->front() : find_record(*records, record, path);
                  return [this, records, chosen] {
                    records_ = std::move(*records);
                    records_box_->clear();
                    for (const SequenceInput& r : records_) {
                      records_box_->addItem(QString("%1 (%2 residues)").arg(r.id).arg(r.residues.size()));
                      records_box_->setItemData(records_box_->count() - 1, r.header, Qt::ToolTipRole);
                    }
                    for (size_t k = 0; k < records_.size(); ++k) {
                      if (records_[k].header == chosen.header) records_box_->setCurrentIndex(static_cast<int>(k));
                    }
                    set_sequence(chosen);
                  };
                });
}

void MainWindow::set_sequence(const SequenceInput& sequence) {
  sequence_ = sequence;
  setWindowTitle(QString("performer-view · %1 (%2 residues)").arg(sequence.id).arg(sequence.residues.size()));
  compute_attention();
}

void MainWindow::paste_sequence() {
  bool ok = false;
  const QString text = QInputDialog::getMultiLineText(this, "Paste sequence",
                                                      "Residues, or a FASTA record (its first record is used):", {}, &ok);
  if (!ok || text.trimmed().isEmpty()) return;
  try {
    records_.clear();
    records_box_->clear();
    set_sequence(parse_pasted(text));
    records_box_->addItem(QString("%1 (%2 residues, pasted)").arg(sequence_->id).arg(sequence_->residues.size()));
  } catch (const std::exception& e) {
    show_error("pasted sequence", e.what());
  }
}

void MainWindow::compute_attention() {
  if (!model_ || !sequence_) return;
  auto model = model_;
  const SequenceInput sequence = *sequence_;
  attention_clock_.start();
  timing_grid_ = true;
  runner_.start("attention", "attention maps", [this, model, sequence](const JobControl& control) -> JobRunner::Deliver {
    auto data = std::make_shared<const AttentionData>(model->attention(sequence, control));
    return [this, data] {
      tabs_->setCurrentWidget(attention_tab_);
      attention_tab_->set_data(data);
    };
  });
}

void MainWindow::compute_similarity(const QString& fasta, int n, const QString& method) {
  if (!model_) {
    show_error("similarity", "open a checkpoint first (File > Open checkpoint)");
    return;
  }
  auto model = model_;
  runner_.start("similarity", "similarity",
                [this, model, fasta, n, method](const JobControl& control) -> JobRunner::Deliver {
    auto data = std::make_shared<const SimilarityData>(model->similarity(fasta, n, method, control));
    return [this, data] { similarity_tab_->set_data(data); };
  });
}

void MainWindow::on_grid_shown() {
  if (!timing_grid_) return;  // a redraw (log scale, other heads), not new maps
  timing_grid_ = false;
  const double seconds = attention_clock_.nsecsElapsed() * 1e-9;
  const QString text = QString("grid: %1 s for %2 residues").arg(seconds, 0, 'f', 2).arg(attention_tab_->data()->length());
  statusBar()->showMessage(text);
  if (options_.timing) std::fprintf(stderr, "%s\n", qPrintable(text));
  if (!options_.screenshot.isEmpty()) take_screenshot_when_idle();
}

void MainWindow::take_screenshot_when_idle() {
  // The large head view is drawn by its own job; wait for every job, then for the repaint.
  if (runner_.busy()) {
    QTimer::singleShot(100, this, &MainWindow::take_screenshot_when_idle);
    return;
  }
  QTimer::singleShot(300, this, [this] {
    const QString text = statusBar()->currentMessage();
    if (!grab().save(options_.screenshot, "PNG")) {
      std::fprintf(stderr, "error: cannot write '%s'\n", qPrintable(options_.screenshot));
      QApplication::exit(1);
      return;
    }
    std::fprintf(stderr, "wrote %s (%s)\n", qPrintable(options_.screenshot), qPrintable(text));
    QApplication::exit(0);
  });
}

void MainWindow::export_figure(bool grid) {
  std::shared_ptr<const Figure> figure;
  QString name;
  if (tabs_->currentWidget() == similarity_tab_ && !grid) {
    figure = similarity_tab_->figure();
    name = "similarity";
  } else if (!grid && attention_tab_->head_view().has_head()) {
    const HeadView& view = attention_tab_->head_view();
    figure = std::make_shared<const HeadFigure>(view.current_plot());
    name = QString("%1-layer%2-head%3").arg(view.data()->id).arg(view.layer()).arg(view.head());
  } else if (attention_tab_->grid()) {
    figure = attention_tab_->grid();
    name = attention_tab_->data()->id + "-grid";
  }
  if (!figure) {
    show_error("export", "nothing to export yet");
    return;
  }
  const QString path = QFileDialog::getSaveFileName(this, "Export figure", name + ".png",
                                                    "PNG image (*.png);;SVG drawing (*.svg)");
  if (path.isEmpty()) return;
  runner_.start("export", "exporting " + QFileInfo(path).fileName(), [this, figure, path](const JobControl&) -> JobRunner::Deliver {
    save_figure(*figure, path, 2);  // PNG at twice the figure's size: sharp in print
    return [this, path] { statusBar()->showMessage("wrote " + path, 5000); };
  });
}

void MainWindow::export_csv() {
  QString suggested;
  std::function<void(const QString&)> write;
  if (tabs_->currentWidget() == similarity_tab_) {
    if (auto data = similarity_tab_->data()) {
      suggested = "similarity.csv";
      write = [data](const QString& path) { write_similarity_csv(path, *data); };
    }
  } else if (const HeadView& view = attention_tab_->head_view(); view.has_head()) {
    auto data = view.data();
    const int layer = view.layer(), head = view.head();
    suggested = QString("%1-layer%2-head%3.csv").arg(data->id).arg(layer).arg(head);
    write = [data, layer, head](const QString& path) {
      const QStringList labels = residue_labels(data->residues);
      write_matrix_csv(path, data->map(layer, head), labels, labels);
    };
  }
  if (!write) {
    show_error("export", "nothing to export yet");
    return;
  }
  const QString path = QFileDialog::getSaveFileName(this, "Export numbers", suggested, "CSV (*.csv)");
  if (path.isEmpty()) return;
  runner_.start("export", "exporting " + QFileInfo(path).fileName(),
                [this, write, path](const JobControl&) -> JobRunner::Deliver {
                  write(path);
                  return [this, path] { statusBar()->showMessage("wrote " + path, 5000); };
                });
}

void MainWindow::show_error(const QString& what, const QString& message) {
  statusBar()->showMessage(what + " failed", 5000);
  if (!options_.screenshot.isEmpty()) {
    // Unattended (screenshot.sh): no one would close a dialog.
    std::fprintf(stderr, "error: %s\n", qPrintable(message));
    QApplication::exit(1);
    return;
  }
  QMessageBox::critical(this, "performer-view", QString("%1: %2").arg(what, message));
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
  if (event->mimeData()->hasUrls()) event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
  for (const QUrl& url : event->mimeData()->urls()) {
    if (!url.isLocalFile()) continue;
    const QString path = url.toLocalFile();
    if (is_checkpoint(path)) open_model(path);
    else open_fasta(path);
  }
  event->acceptProposedAction();
}

}  // namespace performer::view
