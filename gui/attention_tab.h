#pragma once
// The attention tab: the layer x head grid (which layers and heads, linear or log colours) beside the
// large view of one head with its hover read-out. Figures are built by the job runner, off the GUI thread.
#include <QWidget>

#include <memory>

#include "gui/grid_figure.h"
#include "gui/job_runner.h"
#include "gui/view_data.h"

class QCheckBox;
class QLabel;
class QLineEdit;

namespace performer::view {

class GridWidget;
class HeadView;

class AttentionTab : public QWidget {
  Q_OBJECT
 public:
  AttentionTab(JobRunner& runner, QWidget* parent = nullptr);

  // New maps: the grid is rebuilt, and the open head kept where the new data has it.
  void set_data(std::shared_ptr<const AttentionData> data);
  void set_selection(const QString& layers, const QString& heads, bool log_scale);
  void show_head(int layer, int head);

  const std::shared_ptr<const AttentionData>& data() const { return data_; }
  std::shared_ptr<const GridFigure> grid() const { return grid_; }
  const HeadView& head_view() const { return *head_view_; }

 Q_SIGNALS:
  void grid_shown();  // the grid of the current data was painted

 private:
  void rebuild_grid();

  JobRunner& runner_;
  std::shared_ptr<const AttentionData> data_;
  std::shared_ptr<const GridFigure> grid_;
  QLineEdit* layers_ = nullptr;
  QLineEdit* heads_ = nullptr;
  QCheckBox* log_scale_ = nullptr;
  GridWidget* grid_widget_ = nullptr;
  HeadView* head_view_ = nullptr;
  QLabel* readout_ = nullptr;
};

}  // namespace performer::view
