#pragma once
// The window: File menu (checkpoint, FASTA with a record picker, pasted sequence, exports), drag and
// drop, the attention and similarity tabs, and a status bar with progress, cancel and timings. Holds the
// loaded model and the current sequence; all slow work goes through the job runner.
#include <QElapsedTimer>
#include <QMainWindow>

#include <memory>
#include <optional>
#include <vector>

#include "gui/job_runner.h"
#include "gui/model_session.h"
#include "gui/options.h"
#include "gui/sequences.h"

class QComboBox;
class QLabel;
class QProgressBar;
class QPushButton;
class QTabWidget;

namespace performer::view {

class AttentionTab;
class SimilarityTab;

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  explicit MainWindow(const ViewOptions& options, QWidget* parent = nullptr);

  void open_model(const QString& path);
  void open_fasta(const QString& path, const QString& record = {});
  void set_sequence(const SequenceInput& sequence);

 protected:
  void dragEnterEvent(QDragEnterEvent* event) override;
  void dropEvent(QDropEvent* event) override;

 private:
  void build_menus();
  void compute_attention();
  void compute_similarity(const QString& fasta, int n, const QString& method);
  void paste_sequence();
  void export_figure(bool grid);
  void export_csv();
  void on_grid_shown();
  void take_screenshot_when_idle();
  void show_error(const QString& what, const QString& message);

  // A member, so it is destroyed (waiting for its pool threads) before QWidget's destructor deletes the
  // child widgets a late delivery would touch.
  JobRunner runner_;
  ViewOptions options_;
  std::shared_ptr<LoadedModel> model_;
  std::vector<SequenceInput> records_;
  std::optional<SequenceInput> sequence_;
  QElapsedTimer attention_clock_;  // from the request of the maps to the grid on screen
  bool timing_grid_ = false;

  QTabWidget* tabs_ = nullptr;
  AttentionTab* attention_tab_ = nullptr;
  SimilarityTab* similarity_tab_ = nullptr;
  QComboBox* records_box_ = nullptr;
  QLabel* model_label_ = nullptr;
  QProgressBar* progress_ = nullptr;
  QPushButton* cancel_ = nullptr;
};

}  // namespace performer::view
