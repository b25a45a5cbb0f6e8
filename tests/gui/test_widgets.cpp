// Widgets only wire things together; these check the wiring: clicks to tiles, zoom about the pointer,
// pan, the hover read-out, and that work runs off the GUI thread, can be cancelled and replaced.
#include "tests/gui/test_widgets.h"

#include <QApplication>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QSignalSpy>
#include <QTest>
#include <QThread>
#include <QWheelEvent>

#include <atomic>

#include "gui/grid_widget.h"
#include "gui/head_figure.h"
#include "gui/head_view.h"
#include "gui/job_runner.h"
#include "gui/similarity_tab.h"
#include "tests/gui/synthetic.h"

namespace performer::view {
namespace {

void send_mouse(QWidget& w, QEvent::Type type, QPointF at, Qt::MouseButtons buttons) {
  const Qt::MouseButton button = type == QEvent::MouseMove ? Qt::NoButton : Qt::LeftButton;
  QMouseEvent e(type, at, w.mapToGlobal(at), button, buttons, Qt::NoModifier);
  QApplication::sendEvent(&w, &e);
}

void send_wheel(QWidget& w, QPointF at, int degrees_times_8) {
  QWheelEvent e(at, w.mapToGlobal(at), QPoint(), QPoint(0, degrees_times_8), Qt::NoButton, Qt::NoModifier,
                Qt::NoScrollPhase, false);
  QApplication::sendEvent(&w, &e);
}

}  // namespace

void WidgetTests::grid_click_opens_that_head() {
  GridWidget widget;
  widget.resize(700, 500);
  auto grid = std::make_shared<const GridFigure>(synthetic_attention(2, 3, 30), std::vector<int>{},
                                                 std::vector<int>{}, false, 80);
  widget.set_grid(grid);
  QSignalSpy shown(&widget, &FigureWidget::figure_shown);
  widget.show();
  QVERIFY(QTest::qWaitForWindowExposed(&widget));
  QTRY_COMPARE(shown.size(), 1);
  QSignalSpy clicked(&widget, &GridWidget::head_clicked);
  const QPointF centre = widget.figure_to_widget().map(grid->layout().tile_rect(1, 2).center());
  QTest::mouseClick(&widget, Qt::LeftButton, {}, centre.toPoint());
  QCOMPARE(clicked.size(), 1);
  QCOMPARE(clicked[0][0].toInt(), 1);
  QCOMPARE(clicked[0][1].toInt(), 2);
  QTest::mouseClick(&widget, Qt::LeftButton, {}, QPoint(2, 2));  // outside every tile
  QCOMPARE(clicked.size(), 1);
}

void WidgetTests::head_view_zooms_pans_and_reads_out() {
  auto data = synthetic_attention(1, 2, 100);
  HeadView view;
  view.resize(700, 700);
  view.set_head(data, 0, 1, head_plot(*data, 0, 1, false));
  view.show();
  QVERIFY(QTest::qWaitForWindowExposed(&view));
  QCOMPARE(view.current_plot().window, QRectF(0, 0, 100, 100));

  // Zoom in about the plot's centre: the window shrinks and stays centred there.
  const QPointF centre = view.rect().center();
  QSignalSpy hovered(&view, &HeadView::hovered);
  send_wheel(view, centre, 120 * 3);
  const QRectF zoomed = view.current_plot().window;
  QVERIFY(zoomed.width() < 60 && zoomed.width() > 40);
  QCOMPARE(zoomed.width(), zoomed.height());

  // Hover read-out: i, residue, j, residue and the weight of that cell.
  send_mouse(view, QEvent::MouseMove, centre + QPointF(1, 1), Qt::NoButton);
  QVERIFY(hovered.size() >= 1);
  const QString readout = hovered.last()[0].toString();
  QVERIFY2(readout.contains("layer 0, head 1 · i ") && readout.contains("weight"), qPrintable(readout));
  const int i = readout.section("i ", 1).section(' ', 0, 0).toInt(), j = readout.section("j ", 1).section(' ', 0, 0).toInt();
  QVERIFY(i > 1 && j > 1);
  QVERIFY(readout.contains(QString("(%1)").arg(data->residues[i - 1])));
  QVERIFY(readout.contains(QString::number(data->map(0, 1).at(i - 1, j - 1), 'g', 4)));

  // Dragging right by some pixels moves the window left (the map follows the pointer).
  send_mouse(view, QEvent::MouseButtonPress, centre, Qt::LeftButton);
  send_mouse(view, QEvent::MouseMove, centre + QPointF(60, 0), Qt::LeftButton);
  send_mouse(view, QEvent::MouseButtonRelease, centre + QPointF(60, 0), Qt::NoButton);
  QVERIFY(view.current_plot().window.left() < zoomed.left());
  QCOMPARE(view.current_plot().window.top(), zoomed.top());

  // Zooming out past the whole map stops at the whole map; so does a double click.
  send_wheel(view, centre, -120 * 20);
  QCOMPARE(view.current_plot().window, QRectF(0, 0, 100, 100));
  send_wheel(view, centre, 120 * 50);
  QCOMPARE(view.current_plot().window.width(), 4.0);  // at most 4 x 4 cells
  send_mouse(view, QEvent::MouseButtonDblClick, centre, Qt::LeftButton);
  QCOMPARE(view.current_plot().window, QRectF(0, 0, 100, 100));
}

void WidgetTests::similarity_tab_asks_and_shows() {
  SimilarityTab tab;
  tab.set_source("/data/set.fasta", 25);
  QSignalSpy asked(&tab, &SimilarityTab::compute_requested);
  for (QPushButton* b : tab.findChildren<QPushButton*>()) {
    if (b->text() == "Compute") b->click();
  }
  QCOMPARE(asked.size(), 1);
  QCOMPARE(asked[0][0].toString(), QString("/data/set.fasta"));
  QCOMPARE(asked[0][1].toInt(), 25);
  QCOMPARE(asked[0][2].toString(), QString("attention"));
  tab.set_method("substitution");
  QCOMPARE(tab.method(), QString("substitution"));
  tab.set_method("no such method");  // ignored
  QCOMPARE(tab.method(), QString("substitution"));
  QVERIFY(!tab.figure());

  auto data = std::make_shared<SimilarityData>();
  data->order = "ACDEFGHIKLMNPQRSTVWY";
  data->matrix = Matrix(20, 20, 0.5f);
  data->reference = Matrix(20, 20, 1.0f);
  data->reference_name = "blosum62";
  data->pearson = 0.123;
  data->untrained.pearson = 0.045;
  data->shuffled.pearson = -0.01;
  tab.set_data(data);
  QVERIFY(tab.figure());
  bool shows_correlation = false;
  for (QLabel* l : tab.findChildren<QLabel*>())
    shows_correlation |= l->text().contains("Pearson r = 0.123") && l->text().contains("untrained model r = 0.045") &&
                         l->text().contains("shuffled residues r = -0.010");
  QVERIFY(shows_correlation);
}

void WidgetTests::job_runner_delivers_on_the_gui_thread() {
  JobRunner runner;
  QThread* worker = nullptr;
  QThread* delivered_on = nullptr;
  QSignalSpy busy(&runner, &JobRunner::busy_changed);
  QSignalSpy progress(&runner, &JobRunner::progress);
  runner.start("a", "job", [&](const JobControl& control) -> JobRunner::Deliver {
    worker = QThread::currentThread();
    control.report(1, 2, "half way");
    return [&] { delivered_on = QThread::currentThread(); };
  });
  QVERIFY(runner.busy());
  QTRY_VERIFY(delivered_on != nullptr);
  QCOMPARE(delivered_on, QThread::currentThread());
  QVERIFY(worker != QThread::currentThread());
  QVERIFY(!runner.busy());
  QCOMPARE(busy.size(), 2);  // true, then false
  QTRY_VERIFY(progress.size() >= 1);
}

void WidgetTests::job_runner_newer_job_replaces_older() {
  JobRunner runner;
  std::atomic<bool> first_saw_cancel = false;
  int delivered = 0;
  runner.start("slot", "first", [&](const JobControl& control) -> JobRunner::Deliver {
    for (int k = 0; k < 500 && !(control.cancelled && control.cancelled()); ++k) QThread::msleep(10);
    first_saw_cancel = control.cancelled();
    return [&] { delivered += 1; };
  });
  runner.start("slot", "second", [&](const JobControl&) -> JobRunner::Deliver { return [&] { delivered += 10; }; });
  QTRY_COMPARE(delivered, 10);
  QTRY_VERIFY(first_saw_cancel.load());
  QTest::qWait(50);
  QCOMPARE(delivered, 10);  // the replaced job never delivers
}

void WidgetTests::job_runner_reports_errors_and_cancels() {
  JobRunner runner;
  QSignalSpy failed(&runner, &JobRunner::failed);
  runner.start("a", "loading", [](const JobControl&) -> JobRunner::Deliver {
    throw std::runtime_error("bad file\nbacktrace that nobody needs");
  });
  QTRY_COMPARE(failed.size(), 1);
  QCOMPARE(failed[0][0].toString(), QString("loading"));
  QCOMPARE(failed[0][1].toString(), QString("bad file"));

  bool delivered = false;
  runner.start("b", "long", [&](const JobControl& control) -> JobRunner::Deliver {
    for (;;) {
      control.check();  // throws Cancelled once cancel_all() ran
      QThread::msleep(5);
    }
    return [&] { delivered = true; };
  });
  QTest::qWait(30);
  runner.cancel_all();
  QTRY_VERIFY(!runner.busy());
  QCOMPARE(failed.size(), 1);  // cancelling is not an error
  QVERIFY(!delivered);
}

}  // namespace performer::view
