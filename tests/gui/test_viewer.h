#pragma once
#include <QObject>
#include <QTemporaryDir>

namespace performer::view {

// The compute layer and the performer-view executable, with a tiny checkpoint trained once.
class ViewerTests : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase();
  void bad_checkpoints_are_errors_not_crashes();
  void pasted_and_fasta_sequences();
  void attention_maps_of_bpt1();
  void cancelled_work_stops();
  void similarity_against_blosum62();
  void headless_render_grid_head_similarity();
  void headless_errors_are_one_line();
  void without_a_display_help_works_and_the_window_is_an_error();
  void window_shows_grid_and_saves_screenshot();

 private:
  QTemporaryDir dir_;
  QString checkpoint_;  // empty when the performer executable is not built
};

}  // namespace performer::view
