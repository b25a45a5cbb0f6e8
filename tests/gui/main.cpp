// gui_tests: one binary (one ctest entry) running every Qt Test class; run offscreen.
#include <QApplication>
#include <QTest>

#include "tests/gui/test_render.h"
#include "tests/gui/test_viewer.h"
#include "tests/gui/test_widgets.h"

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  int failures = 0;
  {
    performer::view::RenderTests render;
    failures += QTest::qExec(&render, argc, argv);
  }
  {
    performer::view::WidgetTests widgets;
    failures += QTest::qExec(&widgets, argc, argv);
  }
  {
    performer::view::ViewerTests viewer;
    failures += QTest::qExec(&viewer, argc, argv);
  }
  return failures == 0 ? 0 : 1;
}
