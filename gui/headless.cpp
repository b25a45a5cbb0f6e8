#include "gui/headless.h"

#include <QElapsedTimer>

#include <cstdio>
#include <memory>

#include "core/errors.h"
#include "gui/export.h"
#include "gui/grid_figure.h"
#include "gui/head_figure.h"
#include "gui/model_session.h"
#include "gui/similarity_figure.h"

namespace performer::view {
namespace {

struct Timer {
  QElapsedTimer clock;
  double last = 0;
  Timer() { clock.start(); }
  double lap() {  // seconds since the previous lap
    const double now = clock.nsecsElapsed() * 1e-9, d = now - last;
    last = now;
    return d;
  }
};

void render(const ViewOptions& o) {
  Timer timer;
  std::shared_ptr<LoadedModel> model = LoadedModel::load(o.model);
  const double load = timer.lap();
  double compute = 0;
  std::unique_ptr<Figure> figure;
  if (o.render == "similarity") {
    const QString fasta = o.fasta.isEmpty() ? default_similarity_fasta() : o.fasta;
    if (fasta.isEmpty()) throw InputError("no --fasta given and datasets/uniprot_sample.fasta not found");
    const SimilarityData data = model->similarity(fasta, o.n, o.method);
    compute = timer.lap();
    figure = std::make_unique<SimilarityFigure>(data);
    if (!o.csv.isEmpty()) write_similarity_csv(o.csv, data);
    std::fprintf(stderr, "%s\n", qPrintable(SimilarityFigure::correlation_text(data)));
  } else {
    auto data = std::make_shared<const AttentionData>(
        model->attention(requested_sequence(o.fasta, o.record, o.sequence)));
    compute = timer.lap();
    if (o.render == "grid") {
      figure = std::make_unique<GridFigure>(data, parse_index_list(o.layers, data->layers, "layer"),
                                            parse_index_list(o.heads, data->heads, "head"), o.log_scale);
    } else {
      figure = std::make_unique<HeadFigure>(head_plot(*data, o.layer, o.head, o.log_scale));
    }
    if (!o.csv.isEmpty()) {
      check_head(*data, o.layer, o.head);
      const QStringList labels = residue_labels(data->residues);
      write_matrix_csv(o.csv, data->map(o.layer, o.head), labels, labels);
    }
  }
  save_figure(*figure, o.out, o.scale);
  const double draw = timer.lap();
  if (o.timing) {
    std::fprintf(stderr, "%s: load %.2f s, compute %.2f s, draw and save %.2f s, total %.2f s\n", qPrintable(o.render),
                 load, compute, draw, load + compute + draw);
  }
}

}  // namespace

int render_headless(const ViewOptions& options) {
  try {
    render(options);
    return 0;
  } catch (const std::exception& e) {
    // LibTorch messages run to many lines with a C++ backtrace; the user needs the first.
    const QString first = QString::fromLocal8Bit(e.what()).section('\n', 0, 0);
    std::fprintf(stderr, "error: %s\n", qPrintable(first));
    return 1;
  }
}

}  // namespace performer::view
