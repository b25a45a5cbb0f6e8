#pragma once
#include <QObject>

namespace performer::view {

// The widgets and the job runner, driven by synthetic events on the offscreen platform.
class WidgetTests : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void grid_click_opens_that_head();
  void head_view_zooms_pans_and_reads_out();
  void similarity_tab_asks_and_shows();
  void job_runner_delivers_on_the_gui_thread();
  void job_runner_newer_job_replaces_older();
  void job_runner_reports_errors_and_cancels();
};

}  // namespace performer::view
