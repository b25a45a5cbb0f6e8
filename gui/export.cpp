#include "gui/export.h"

#include <QFile>
#include <QFileInfo>
#include <QImage>
#include <QSaveFile>
#include <QSvgGenerator>
#include <QTextStream>

#include <cmath>

#include "core/errors.h"

namespace performer::view {
namespace {

[[noreturn]] void fail(const QString& path, const QString& why) {
  throw InputError(QString("cannot write '%1': %2").arg(path, why).toStdString());
}

// 9 significant digits: every float reads back exactly.
QString number(float v) { return std::isfinite(v) ? QString::number(v, 'g', 9) : QString(); }

// Fields with a comma or quote are quoted (record ids may hold either).
QString field(const QString& text) {
  if (!text.contains(',') && !text.contains('"')) return text;
  return '"' + QString(text).replace("\"", "\"\"") + '"';
}

// Written to a temporary file and renamed at commit: a failed export leaves no half file.
template <typename Write>
void write_text(const QString& path, Write&& write) {
  QSaveFile file(path);
  if (!file.open(QIODevice::WriteOnly | QIODevice::Text)) fail(path, file.errorString());
  QTextStream out(&file);
  write(out);
  out.flush();
  if (!file.commit()) fail(path, file.errorString());
}

}  // namespace

void save_figure(const Figure& figure, const QString& path, double scale) {
  const QString suffix = QFileInfo(path).suffix().toLower();
  const QSize size = figure.size();
  if (suffix == "png") {
    QImage image(size * scale, QImage::Format_ARGB32_Premultiplied);
    image.setDevicePixelRatio(scale);
    image.fill(Qt::white);
    {
      QPainter painter(&image);
      painter.setRenderHint(QPainter::Antialiasing);
      painter.setRenderHint(QPainter::TextAntialiasing);
      figure.paint(painter);
    }
    if (!image.save(path, "PNG")) fail(path, "the folder does not exist or is not writable");
  } else if (suffix == "svg") {
    if (!QFileInfo(QFileInfo(path).absolutePath()).isWritable()) fail(path, "the folder is not writable");
    QSvgGenerator svg;
    svg.setFileName(path);
    svg.setSize(size);
    svg.setViewBox(QRect(QPoint(0, 0), size));
    svg.setTitle("performer-view");
    {
      QPainter painter(&svg);
      figure.paint(painter);
    }
    if (!QFileInfo::exists(path)) fail(path, "the SVG was not written");
  } else {
    fail(path, "the file name must end in .png or .svg");
  }
}

void write_matrix_csv(const QString& path, const Matrix& m, const QStringList& row_labels,
                      const QStringList& col_labels) {
  write_text(path, [&](QTextStream& out) {
    out << "residue";
    for (int j = 0; j < m.cols; ++j) out << ',' << field(j < col_labels.size() ? col_labels[j] : QString::number(j));
    out << '\n';
    for (int i = 0; i < m.rows; ++i) {
      out << field(i < row_labels.size() ? row_labels[i] : QString::number(i));
      for (int j = 0; j < m.cols; ++j) out << ',' << number(m.at(i, j));
      out << '\n';
    }
  });
}

void write_similarity_csv(const QString& path, const SimilarityData& data) {
  write_text(path, [&](QTextStream& out) {
    out << "a,b,attention_similarity," << data.reference_name << '\n';
    for (int i = 0; i < data.attention.rows; ++i) {
      for (int j = 0; j < data.attention.cols; ++j) {
        out << data.order[i] << ',' << data.order[j] << ',' << number(data.attention.at(i, j)) << ','
            << number(data.reference.at(i, j)) << '\n';
      }
    }
  });
}

}  // namespace performer::view
