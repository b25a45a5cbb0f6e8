// The viewer end to end: a tiny checkpoint from `performer train`, the compute layer on it, and the
// performer-view executable headless (--render) and windowed (--screenshot, offscreen platform).
#include "tests/gui/test_viewer.h"

#include <QFile>
#include <QImage>
#include <QProcess>
#include <QTest>

#include <cmath>

#include "core/errors.h"
#include "gui/model_session.h"
#include "gui/sequences.h"

namespace performer::view {
namespace {

struct Run {
  int code = -1;
  QString out, err;
};

Run run(const QString& exe, const QStringList& args, int timeout_ms = 120000,
        const QProcessEnvironment& environment = QProcessEnvironment::systemEnvironment()) {
  QProcess p;
  p.setProcessEnvironment(environment);
  p.start(exe, args);
  Run r;
  if (!p.waitForFinished(timeout_ms)) {
    p.kill();
    p.waitForFinished();
    r.err = "timed out";
    return r;
  }
  r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
  r.out = QString::fromUtf8(p.readAllStandardOutput());
  r.err = QString::fromUtf8(p.readAllStandardError());
  return r;
}

QStringList error_lines(const QString& err) {
  QStringList lines;
  for (const QString& l : err.split('\n')) {
    if (l.startsWith("error:")) lines << l;
  }
  return lines;
}

const QString kSource = PERFORMER_SOURCE_DIR;
const QString kView = PERFORMER_VIEW_EXE;

#define REQUIRE_CHECKPOINT() \
  if (checkpoint_.isEmpty()) QSKIP("the performer executable is not built: no checkpoint to test with")

}  // namespace

void ViewerTests::initTestCase() {
  QVERIFY(dir_.isValid());
#ifdef PERFORMER_EXE
  checkpoint_ = dir_.filePath("tiny.pt");
  const Run r = run(PERFORMER_EXE, {"--threads", "1", "train", "--data", kSource + "/datasets/uniprot_sample.fasta",
                                    "--preset", "tiny", "--attention", "favor_softmax", "--max-steps", "2",
                                    "--eval-every", "0", "--tokens-per-batch", "1024", "--out", checkpoint_});
  QVERIFY2(r.code == 0, qPrintable(r.err));
#endif
}

void ViewerTests::bad_checkpoints_are_errors_not_crashes() {
  QVERIFY_THROWS_EXCEPTION(InputError, LoadedModel::load(dir_.filePath("missing.pt")));
  QFile text(dir_.filePath("text.pt"));
  QVERIFY(text.open(QIODevice::WriteOnly));
  text.write("not a checkpoint\n");
  text.close();
  QVERIFY_THROWS_EXCEPTION(InputError, LoadedModel::load(text.fileName()));
  QVERIFY_THROWS_EXCEPTION(InputError, LoadedModel::load(kSource + "/datasets/bpt1_bovin.fasta"));
  QVERIFY_THROWS_EXCEPTION(InputError, LoadedModel::load(dir_.path()));  // a folder
}

void ViewerTests::pasted_and_fasta_sequences() {
  const SequenceInput raw = parse_pasted("mkms rlcl\n 12 SVAL*\n");
  QCOMPARE(raw.id, QString("pasted"));
  QCOMPARE(raw.residues, QString("mkmsrlclSVAL"));
  const SequenceInput fasta = parse_pasted(">sp|P00974|BPT1_BOVIN trypsin inhibitor\nMKMS\nRLCL\n>second\nAAAA\n");
  QCOMPARE(fasta.id, QString("BPT1_BOVIN"));
  QCOMPARE(fasta.residues, QString("MKMSRLCL"));
  QVERIFY_THROWS_EXCEPTION(InputError, parse_pasted(" \n 123 \n"));

  const auto records = read_fasta(kSource + "/datasets/uniprot_sample.fasta", 5);
  QCOMPARE(records.size(), size_t(5));
  QCOMPARE(records[0].id, QString("BPT1_BOVIN"));
  QCOMPARE(find_record(records, "p00974", "sample").residues.size(), 100);
  QCOMPARE(find_record(records, records[3].id, "sample").header, records[3].header);
  QVERIFY_THROWS_EXCEPTION(InputError, find_record(records, "NO_SUCH", "sample"));
  QVERIFY_THROWS_EXCEPTION(InputError, read_fasta(dir_.filePath("missing.fasta")));
  QVERIFY(default_example_fasta().endsWith("datasets/bpt1_bovin.fasta"));
}

void ViewerTests::attention_maps_of_bpt1() {
  REQUIRE_CHECKPOINT();
  auto model = LoadedModel::load(checkpoint_);
  QCOMPARE(model->layers(), 2);
  QVERIFY(model->description().startsWith("tiny · favor_softmax · mlm"));
  int reports = 0;
  JobControl control;
  control.progress = [&](int, int, const QString&) { ++reports; };
  const AttentionData data = model->attention(load_sequence(default_example_fasta(), {}), control);
  QCOMPARE(data.id, QString("BPT1_BOVIN"));
  QCOMPARE(data.length(), 100);
  QCOMPARE(int(data.maps.size()), data.layers * data.heads);
  QVERIFY(reports > data.layers * data.heads);
  for (const Matrix& m : data.maps) {
    QCOMPARE(m.rows, 100);
    QCOMPARE(m.cols, 100);
    // Residue rows are probabilities over the framed row: at most 1 once <cls> and <eos> are dropped.
    for (int i = 0; i < m.rows; ++i) {
      double sum = 0;
      for (int j = 0; j < m.cols; ++j) {
        QVERIFY(m.at(i, j) >= 0);
        sum += m.at(i, j);
      }
      QVERIFY(sum > 0.5 && sum <= 1.0 + 1e-4);
    }
  }
  QVERIFY_THROWS_EXCEPTION(InputError, model->attention(parse_pasted("MKJ1")));  // J is no residue
}

void ViewerTests::cancelled_work_stops() {
  REQUIRE_CHECKPOINT();
  auto model = LoadedModel::load(checkpoint_);
  JobControl cancelled;
  cancelled.cancelled = [] { return true; };
  QVERIFY_THROWS_EXCEPTION(Cancelled, model->attention(parse_pasted("MKMSRLCL"), cancelled));
  QVERIFY_THROWS_EXCEPTION(Cancelled, model->similarity(default_similarity_fasta(), 5, "attention", cancelled));
}

void ViewerTests::similarity_against_blosum62() {
  REQUIRE_CHECKPOINT();
  auto model = LoadedModel::load(checkpoint_);
  const SimilarityData s = model->similarity(default_similarity_fasta(), 3);
  QCOMPARE(s.sequences, 3);
  QCOMPARE(s.method, QString("attention"));
  // Residue groups: hydrophobic, aromatic, charged, polar, special.
  QCOMPARE(s.order, QString("AVLIMFWYDEKRHSTNQCGP"));
  QCOMPARE(s.groups, std::vector<int>({5, 3, 5, 4, 3}));
  QCOMPARE(s.matrix.rows, 20);
  QCOMPARE(s.reference.at(0, 0), 4.0f);    // BLOSUM62 A-A
  QCOMPARE(s.reference.at(6, 6), 11.0f);   // W-W
  QCOMPARE(s.reference.at(0, 17), 0.0f);   // A-C
  QCOMPARE(s.reference.at(8, 9), 2.0f);    // D-E
  QCOMPARE(s.reference.at(5, 7), 3.0f);    // F-Y
  QVERIFY(std::abs(s.pearson) <= 1 && std::abs(s.spearman) <= 1);
  QCOMPARE(s.matrix.at(3, 7), s.matrix.at(7, 3));  // symmetrised
  QVERIFY(std::isfinite(s.untrained.pearson) && std::isfinite(s.shuffled.pearson));
  QCOMPARE(s.heads.rows, model->layers());  // each head's correlation
  QCOMPARE(s.heads.cols, model->heads());
  const SimilarityData e = model->similarity(QString(), 1, "embedding");
  QCOMPARE(e.sequences, 0);
  QVERIFY(!std::isfinite(e.shuffled.pearson));  // no sequences, no shuffled control
  QCOMPARE(e.heads.rows, 0);
  QVERIFY_THROWS_EXCEPTION(ConfigError, model->similarity(default_similarity_fasta(), 1, "telepathy"));
}

void ViewerTests::headless_render_grid_head_similarity() {
  REQUIRE_CHECKPOINT();
  const QString grid = dir_.filePath("grid.png");
  Run r = run(kView, {checkpoint_, "--render", "grid", "--out", grid, "--timing"});
  QVERIFY2(r.code == 0, qPrintable(r.err));
  QVERIFY(r.err.contains("grid: load"));
  const QImage image(grid);
  QVERIFY(!image.isNull());
  QVERIFY(image.width() > 400 && image.height() > 300);

  const QString head = dir_.filePath("head.svg"), csv = dir_.filePath("head.csv");
  r = run(kView, {checkpoint_, "--render", "head", "--layer", "1", "--head", "1", "--log-scale", "--fasta",
                  kSource + "/datasets/uniprot_sample.fasta", "--record", "BPT1_BOVIN", "--out", head, "--csv", csv});
  QVERIFY2(r.code == 0, qPrintable(r.err));
  QFile svg(head);
  QVERIFY(svg.open(QIODevice::ReadOnly));
  QVERIFY(svg.readAll().contains("<svg"));
  QFile numbers(csv);
  QVERIFY(numbers.open(QIODevice::ReadOnly | QIODevice::Text));
  QCOMPARE(QString::fromUtf8(numbers.readLine()).section(',', 0, 2), QString("residue,M1,K2"));

  const QString similarity = dir_.filePath("similarity.png");
  r = run(kView, {checkpoint_, "--render", "similarity", "--n", "2", "--out", similarity, "--csv",
                  dir_.filePath("similarity.csv")});
  QVERIFY2(r.code == 0, qPrintable(r.err));
  QVERIFY(r.err.contains("Spearman"));
  QVERIFY(!QImage(similarity).isNull());
}

void ViewerTests::headless_errors_are_one_line() {
  const QString out = dir_.filePath("never.png");
  Run r = run(kView, {dir_.filePath("missing.pt"), "--render", "grid", "--out", out});
  QCOMPARE(r.code, 1);
  QCOMPARE(error_lines(r.err).size(), 1);
  QVERIFY(r.err.contains("missing.pt"));
  r = run(kView, {kSource + "/datasets/bpt1_bovin.fasta", "--render", "grid", "--out", out});
  QCOMPARE(r.code, 1);
  QCOMPARE(error_lines(r.err).size(), 1);
  r = run(kView, {"model.pt", "--render", "grid"});  // no --out
  QCOMPARE(r.code, 2);
  r = run(kView, {"model.pt", "--render", "pie", "--out", out});
  QCOMPARE(r.code, 2);
  if (!checkpoint_.isEmpty()) {
    r = run(kView, {checkpoint_, "--render", "head", "--layer", "9", "--out", out});
    QCOMPARE(r.code, 1);
    QVERIFY(error_lines(r.err).value(0).contains("layer 9"));
    r = run(kView, {checkpoint_, "--render", "grid", "--sequence", "MKXJ", "--out", out});
    QCOMPARE(r.code, 1);
    QCOMPARE(error_lines(r.err).size(), 1);
    r = run(kView, {checkpoint_, "--render", "grid", "--out", dir_.filePath("grid.gif")});
    QCOMPARE(r.code, 1);
  }
  QVERIFY(!QFile::exists(out));
}

void ViewerTests::without_a_display_help_works_and_the_window_is_an_error() {
  QProcessEnvironment bare = QProcessEnvironment::systemEnvironment();
  for (const char* name : {"DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"}) bare.remove(name);
  Run r = run(kView, {"--help"}, 120000, bare);
  QCOMPARE(r.code, 0);
  QVERIFY2(r.out.contains("--render"), qPrintable(r.out));
  r = run(kView, {"--version"}, 120000, bare);
  QCOMPARE(r.code, 0);
  r = run(kView, {"model.pt"}, 120000, bare);
  QCOMPARE(r.code, 1);
  QCOMPARE(error_lines(r.err).size(), 1);
  QVERIFY2(r.err.contains("no display"), qPrintable(r.err));
}

void ViewerTests::window_shows_grid_and_saves_screenshot() {
  REQUIRE_CHECKPOINT();
  // The real main window on the offscreen platform: loads, computes off the GUI thread, shows the grid
  // and the first head, then grabs itself.
  const QString shot = dir_.filePath("window.png");
  const Run r = run(kView, {checkpoint_, "--screenshot", shot, "--timing"});
  QVERIFY2(r.code == 0, qPrintable(r.err));
  QVERIFY(r.err.contains("grid: "));
  const QImage image(shot);
  QVERIFY(!image.isNull());
  QVERIFY(image.width() >= 800);
  const Run bad = run(kView, {dir_.filePath("missing.pt"), "--screenshot", shot});
  QCOMPARE(bad.code, 1);
  QCOMPARE(error_lines(bad.err).size(), 1);
}

}  // namespace performer::view
