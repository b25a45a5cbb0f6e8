// performer-view: the window, or with --render a figure drawn headless (no widgets, no display).
#include <QApplication>
#include <QCoreApplication>
#include <QGuiApplication>

#include <cstdio>

#include "gui/headless.h"
#include "gui/main_window.h"
#include "gui/model_session.h"
#include "gui/options.h"

namespace {

// Exit code 2 and a hint, as the performer CLI does for bad usage.
int usage_error(const QString& error) {
  std::fprintf(stderr, "performer-view: %s\nRun with --help for more information.\n", qPrintable(error));
  return 2;
}

void name_application() {
  QCoreApplication::setApplicationName("performer-view");
  QCoreApplication::setApplicationVersion(PERFORMER_VERSION);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace performer::view;
  if (wants_help(argc, argv) && !has_display()) {
    QCoreApplication app(argc, argv);
    name_application();
    ViewOptions options;
    QString error;
    return parse_options(app.arguments(), options, error) ? 0 : usage_error(error);
  }
  use_all_cores();  // before Qt starts threads: it sets BLIS_NUM_THREADS in the environment
  if (wants_headless(argc, argv)) {
    // Scripts and CI have no display: draw offscreen unless told otherwise.
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
    QGuiApplication app(argc, argv);
    name_application();
    ViewOptions options;
    QString error;
    if (!parse_options(app.arguments(), options, error)) return usage_error(error);
    return render_headless(options);
  }
  if (!has_display()) {
    std::fprintf(stderr,
                 "error: no display to open a window on (DISPLAY is not set): run under xvfb-run, or draw a "
                 "figure with --render grid|head|similarity --out FILE\n");
    return 1;
  }
  QApplication app(argc, argv);
  name_application();
  ViewOptions options;
  QString error;
  if (!parse_options(app.arguments(), options, error)) return usage_error(error);
  MainWindow window(options);
  window.show();
  return app.exec();
}
