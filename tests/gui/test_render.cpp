// The drawing code without LibTorch: colours of known cells, scales, downsampling, grid geometry,
// and that PNG, SVG and CSV files come out valid and read back.
#include "tests/gui/test_render.h"

#include <QFile>
#include <QTemporaryDir>
#include <QTest>
#include <QXmlStreamReader>

#include <cmath>
#include <limits>
#include <memory>

#include "core/errors.h"
#include "gui/colour_map.h"
#include "gui/export.h"

#include <sys/resource.h>

#include <csignal>
#include "gui/grid_figure.h"
#include "gui/head_figure.h"
#include "gui/heatmap.h"
#include "gui/similarity_figure.h"
#include "tests/gui/synthetic.h"

namespace performer::view {
namespace {

// Rec. 709 luma of an sRGB colour.
double luma(QRgb c) { return 0.2126 * qRed(c) + 0.7152 * qGreen(c) + 0.0722 * qBlue(c); }

QList<QStringList> read_csv(const QString& path) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly | QIODevice::Text)) return {};
  QList<QStringList> rows;
  while (!f.atEnd()) rows << QString::fromUtf8(f.readLine()).trimmed().split(',');
  return rows;
}

}  // namespace

void RenderTests::viridis_ends_are_the_published_colours() {
  // viridis(0) = #440154 and viridis(1) = #fde725 by the colour map's definition.
  QCOMPARE(viridis(0.0), QRgb(0xff440154));
  QCOMPARE(viridis(1.0), QRgb(0xfffde725));
  QCOMPARE(viridis(-3.0), viridis(0.0));  // clamped
  QCOMPARE(viridis(7.0), viridis(1.0));
  QCOMPARE(viridis(std::nan("")), viridis(0.0));
}

void RenderTests::viridis_lightness_rises() {
  // What makes it perceptual: lightness grows monotonically from 0 to 1.
  const auto& table = viridis_table();
  for (size_t k = 1; k < table.size(); ++k) QVERIFY2(luma(table[k]) > luma(table[k - 1]) - 0.5, qPrintable(QString::number(k)));
  QVERIFY(luma(table[255]) - luma(table[0]) > 150);
}

void RenderTests::heatmap_has_expected_colours_at_known_cells() {
  // [[0, 0.5, 1], [1, NaN, 0]] on its own 0..1 scale: row i is image line y = i, column j is x = j.
  const Matrix m(2, 3, {0.0f, 0.5f, 1.0f, 1.0f, std::numeric_limits<float>::quiet_NaN(), 0.0f});
  const ColourScale scale = ColourScale::fit({&m}, false);
  QCOMPARE(scale.low, 0.0);
  QCOMPARE(scale.high, 1.0);
  const QImage image = heatmap_image(m, scale);
  QCOMPARE(image.size(), QSize(3, 2));
  QCOMPARE(image.pixel(0, 0), QRgb(0xff440154));
  QCOMPARE(image.pixel(2, 0), QRgb(0xfffde725));
  QCOMPARE(image.pixel(0, 1), QRgb(0xfffde725));
  QCOMPARE(image.pixel(2, 1), QRgb(0xff440154));
  QCOMPARE(image.pixel(1, 0), viridis(0.5));
  QCOMPARE(image.pixel(1, 1), kMissingColour);
  // 0.5 lies at the middle anchor of viridis, #21908c, to within the table's interpolation.
  QVERIFY(std::abs(qRed(image.pixel(1, 0)) - 0x21) <= 2 && std::abs(qGreen(image.pixel(1, 0)) - 0x90) <= 2 &&
          std::abs(qBlue(image.pixel(1, 0)) - 0x8c) <= 2);
}

void RenderTests::log_scale_spaces_decades_evenly() {
  const Matrix m(1, 4, {1e-3f, 1e-2f, 1e-1f, 1.0f});
  const ColourScale s = ColourScale::fit({&m}, true);
  QVERIFY(std::abs(s.low - 1e-3) < 1e-9);
  QCOMPARE(s.high, 1.0);
  for (int k = 0; k < 4; ++k) QVERIFY(std::abs(s.position(m.at(0, k)) - k / 3.0) < 1e-6);
  QVERIFY(std::abs(s.value(1.0 / 3) - 1e-2) < 1e-9);
  // Zeros and weights far below the top sit at the bottom of the scale, not at -infinity.
  const Matrix zeros(1, 3, {0.0f, 1e-9f, 1.0f});
  const ColourScale z = ColourScale::fit({&zeros}, true);
  QCOMPARE(z.low, 1.0 / ColourScale::kLogDecades);
  QCOMPARE(z.position(0.0), 0.0);
  QCOMPARE(z.position(1e-9), 0.0);
}

void RenderTests::downsample_averages_areas() {
  Matrix m(4, 4);
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) m.at(i, j) = float(i * 4 + j);
  const Matrix d = downsample(m, 2, 2);
  QCOMPARE(d.rows, 2);
  QCOMPARE(d.at(0, 0), (0 + 1 + 4 + 5) / 4.0f);
  QCOMPARE(d.at(1, 1), (10 + 11 + 14 + 15) / 4.0f);
  // Uneven ratios keep the mean of the whole.
  Matrix odd(3, 3);
  for (int k = 0; k < 9; ++k) odd.values[k] = float(k);
  const Matrix o = downsample(odd, 2, 2);
  double sum = 0;
  for (float v : o.values) sum += v;
  QVERIFY(std::abs(sum / 4 - 4.0) < 1e-5);
  QCOMPARE(downsample(m, 10, 10).values, m.values);  // never upsampled
}

void RenderTests::grid_has_layers_times_heads_tiles() {
  auto data = synthetic_attention(4, 3, 40);
  const GridFigure grid(data, {}, {}, false, 60);
  const GridLayout& l = grid.layout();
  QCOMPARE(l.rows, 4);
  QCOMPARE(l.cols, 3);
  QImage image(grid.size(), QImage::Format_RGB32);
  {
    QPainter painter(&image);
    grid.paint(painter);
  }
  const QRectF bounds(QPointF(0, 0), l.size());
  for (int r = 0; r < l.rows; ++r) {
    for (int c = 0; c < l.cols; ++c) {
      const QRectF t = l.tile_rect(r, c);
      QVERIFY(bounds.contains(t));
      QCOMPARE(l.tile_at(t.center()), r * l.cols + c);
      QCOMPARE(grid.layer_of(r * l.cols + c), r);
      QCOMPARE(grid.head_of(r * l.cols + c), c);
      // Tiles do not overlap: the next one to the right starts after a gap.
      if (c + 1 < l.cols) QVERIFY(l.tile_rect(r, c + 1).left() > t.right());
      // The tile is painted (a viridis colour, not the white background).
      QVERIFY(image.pixel(t.center().toPoint()) != qRgb(255, 255, 255));
    }
  }
  QCOMPARE(l.tile_at(QPointF(1, 1)), -1);
  // The top-left cell of layer 0, head 0 is the grid's smallest value: the darkest viridis colour.
  const QRectF first = l.tile_rect(0, 0);
  QCOMPARE(image.pixel(first.topLeft().toPoint() + QPoint(2, 2)), viridis(0.0));

  const GridFigure some(data, {0, 2}, {1}, true, 60);
  QCOMPARE(some.layout().rows, 2);
  QCOMPARE(some.layout().cols, 1);
  QCOMPARE(some.layer_of(1), 2);
  QCOMPARE(some.head_of(1), 1);
  QVERIFY_THROWS_EXCEPTION(InputError, GridFigure(data, {4}, {}, false));
}

void RenderTests::index_lists_parse() {
  QCOMPARE(parse_index_list("all", 3, "head"), std::vector<int>({0, 1, 2}));
  QCOMPARE(parse_index_list("", 2, "head"), std::vector<int>({0, 1}));
  QCOMPARE(parse_index_list("0, 2", 4, "layer"), std::vector<int>({0, 2}));
  QCOMPARE(parse_index_list("1-3", 4, "layer"), std::vector<int>({1, 2, 3}));
  QVERIFY_THROWS_EXCEPTION(InputError, parse_index_list("5", 4, "layer"));
  QVERIFY_THROWS_EXCEPTION(InputError, parse_index_list("one", 4, "layer"));
  QVERIFY_THROWS_EXCEPTION(InputError, parse_index_list("3-1", 4, "layer"));
}

void RenderTests::png_export_reads_back_at_its_size() {
  QTemporaryDir dir;
  const GridFigure grid(synthetic_attention(2, 2, 30), {}, {}, false, 50);
  const QString path = dir.filePath("grid.png");
  save_figure(grid, path);
  QImage back(path);
  QVERIFY(!back.isNull());
  QCOMPARE(back.size(), grid.size());
  save_figure(grid, path, 2);
  QCOMPARE(QImage(path).size(), grid.size() * 2);

  const HeadFigure head(head_plot(*synthetic_attention(1, 1, 25), 0, 0, false));
  save_figure(head, dir.filePath("head.png"));
  QCOMPARE(QImage(dir.filePath("head.png")).size(), head.size());
}

void RenderTests::svg_export_is_well_formed() {
  QTemporaryDir dir;
  const HeadFigure head(head_plot(*synthetic_attention(2, 2, 25), 1, 1, true));
  const QString path = dir.filePath("head.svg");
  save_figure(head, path);
  QFile f(path);
  QVERIFY(f.open(QIODevice::ReadOnly));
  const QByteArray text = f.readAll();
  QVERIFY(text.contains("<svg"));
  QVERIFY(text.contains("<image"));  // the heatmap
  QXmlStreamReader xml(text);
  QString root;
  int elements = 0;
  while (!xml.atEnd()) {
    if (xml.readNext() == QXmlStreamReader::StartElement) {
      if (root.isEmpty()) root = xml.name().toString();
      ++elements;
    }
  }
  QVERIFY2(!xml.hasError(), qPrintable(xml.errorString()));
  QCOMPARE(root, QString("svg"));
  QVERIFY(elements > 10);
}

void RenderTests::csv_round_trips_numbers() {
  QTemporaryDir dir;
  const Matrix m(2, 3, {1.0f / 3, 1e-7f, 12345.678f, -0.25f, 0.0f, std::numeric_limits<float>::quiet_NaN()});
  const QString path = dir.filePath("head.csv");
  write_matrix_csv(path, m, {"M1", "K2"}, {"M1", "K2", "P3"});
  const auto rows = read_csv(path);
  QCOMPARE(rows.size(), 3);
  QCOMPARE(rows[0], QStringList({"residue", "M1", "K2", "P3"}));
  QCOMPARE(rows[1][0], QString("M1"));
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 2; ++j) QCOMPARE(rows[i + 1][j + 1].toFloat(), m.at(i, j));  // exact
  }
  QCOMPARE(rows[1][3].toFloat(), m.at(0, 2));
  QCOMPARE(rows[2][3], QString());  // no number for NaN

  SimilarityData s;
  s.order = "ACD";
  s.matrix = Matrix(3, 3, {0.1f, 0.2f, 0.3f, 0.2f, 0.5f, 0.6f, 0.3f, 0.6f, 0.9f});
  s.reference = Matrix(3, 3, {4, 0, -2, 0, 9, -3, -2, -3, 6});
  s.reference_name = "blosum62";
  write_similarity_csv(dir.filePath("similarity.csv"), s);
  const auto pairs = read_csv(dir.filePath("similarity.csv"));
  QCOMPARE(pairs.size(), 10);
  QCOMPARE(pairs[0], QStringList({"a", "b", "attention_similarity", "blosum62"}));
  QCOMPARE(pairs[6], QStringList({"C", "D", "0.600000024", "-3"}));
  QCOMPARE(pairs[6][2].toFloat(), 0.6f);
}

void RenderTests::exports_to_bad_places_are_errors() {
  const GridFigure grid(synthetic_attention(1, 1, 10), {}, {}, false, 40);
  QVERIFY_THROWS_EXCEPTION(InputError, save_figure(grid, "/no/such/folder/grid.png"));
  QVERIFY_THROWS_EXCEPTION(InputError, save_figure(grid, "/no/such/folder/grid.svg"));
  QVERIFY_THROWS_EXCEPTION(InputError, save_figure(grid, QDir::tempPath() + "/grid.jpg"));
  QVERIFY_THROWS_EXCEPTION(InputError, write_matrix_csv("/no/such/folder/m.csv", Matrix(1, 1), {}, {}));
  try {
    save_figure(grid, "/no/such/folder/grid.svg");
  } catch (const InputError& e) {
    QCOMPARE(QString(e.what()), QString("cannot write '/no/such/folder/grid.svg': No such file or directory"));
  }
  // A full disk (here a file-size limit): an error with the reason, and the previous file kept whole.
  QTemporaryDir dir;
  const QString path = dir.filePath("grid.svg");
  save_figure(grid, path);
  const QByteArray before = [&] { QFile f(path); f.open(QIODevice::ReadOnly); return f.readAll(); }();
  rlimit old{};
  getrlimit(RLIMIT_FSIZE, &old);
  auto previous_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old;
  small.rlim_cur = 1024;
  setrlimit(RLIMIT_FSIZE, &small);
  QString message;
  try {
    save_figure(grid, path);
  } catch (const InputError& e) {
    message = e.what();
  }
  setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, previous_handler);
  QCOMPARE(message, QString("cannot write '%1': File too large").arg(path));
  QFile after(path);
  QVERIFY(after.open(QIODevice::ReadOnly));
  QCOMPARE(after.readAll(), before);
  QCOMPARE(QDir(dir.path()).entryList(QDir::Files).size(), 1);  // no temporary left
}

void RenderTests::similarity_figure_draws_both_matrices() {
  SimilarityData s;
  s.order = "ACDEFGHIKLMNPQRSTVWY";
  s.matrix = Matrix(20, 20);
  s.reference = Matrix(20, 20);
  for (int i = 0; i < 20; ++i) {
    s.matrix.at(i, i) = 1;
    s.reference.at(i, i) = 5;
  }
  s.reference_name = "blosum62";
  s.pearson = 0.5;
  s.spearman = 0.25;
  s.sequences = 3;
  const SimilarityFigure figure(s);
  QImage image(figure.size(), QImage::Format_RGB32);
  {
    QPainter painter(&image);
    figure.paint(painter);
  }
  // Both plots draw their diagonal in the top colour and the rest in the bottom one.
  int yellow = 0;
  for (int y = 0; y < image.height(); ++y)
    for (int x = 0; x < image.width(); ++x) yellow += image.pixel(x, y) == viridis(1.0);
  QVERIFY(yellow > 2 * 20 * 50);
  QVERIFY(SimilarityFigure::correlation_text(s).contains("Pearson r = 0.500"));
  QVERIFY(!SimilarityFigure::correlation_text(s).contains("controls"));  // none computed
  s.untrained.pearson = 0.02;
  s.untrained.spearman = 0.01;
  QVERIFY(SimilarityFigure::correlation_text(s).contains("controls: untrained model r = 0.020, ρ = 0.010"));

  // Group lines are white across both plots; each head's correlation is a cell of its own, here
  // all r = 1 (yellow): more yellow than the two plots alone.
  auto count = [](const SimilarityFigure& f, QRgb colour) {
    QImage im(f.size(), QImage::Format_RGB32);
    {
      QPainter painter(&im);
      f.paint(painter);
    }
    int n = 0;
    for (int y = 0; y < im.height(); ++y)
      for (int x = 0; x < im.width(); ++x) n += im.pixel(x, y) == colour;
    return n;
  };
  const int plain_yellow = count(SimilarityFigure(s), viridis(1.0));
  s.heads = Matrix(2, 4, 1.0f);
  QVERIFY(count(SimilarityFigure(s), viridis(1.0)) > plain_yellow + 8 * 100);
  s.heads = Matrix();
  const int white = count(SimilarityFigure(s), qRgb(255, 255, 255));
  s.groups = {5, 3, 5, 4, 3};
  // Lines inside the plots are drawn over cells: more white pixels than without them.
  QVERIFY(count(SimilarityFigure(s), qRgb(255, 255, 255)) > white + 4 * 100);
}

}  // namespace performer::view
