#include "gui/export.h"

#include <QBuffer>
#include <QFile>
#include <QFileInfo>
#include <QImage>
#include <QSvgGenerator>

#include <cmath>

#include "core/errors.h"
#include "io/file.h"
#include "io/table.h"

namespace performer::view {
namespace {

[[noreturn]] void fail(const QString& path, const QString& why) {
  throw InputError(QString("cannot write '%1': %2").arg(path, why).toStdString());
}

// 9 significant digits: every float reads back exactly; nothing for a value that is not finite.
std::string number(float v) { return std::isfinite(v) ? QString::number(v, 'g', 9).toStdString() : std::string(); }

// Every file goes through the toolkit's atomic writer: a failed export (a full disk, a missing
// folder) leaves no half file and names the operating system's reason.
void write_bytes(const QString& path, const QByteArray& bytes) {
  io::write_file(path.toStdString(), bytes.toStdString());
}

}  // namespace

void save_figure(const Figure& figure, const QString& path, double scale) {
  const QString suffix = QFileInfo(path).suffix().toLower();
  const QSize size = figure.size();
  QByteArray bytes;
  QBuffer buffer(&bytes);
  buffer.open(QIODevice::WriteOnly);
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
    if (!image.save(&buffer, "PNG")) fail(path, "the image could not be encoded as PNG");
  } else if (suffix == "svg") {
    QSvgGenerator svg;
    svg.setOutputDevice(&buffer);
    svg.setSize(size);
    svg.setViewBox(QRect(QPoint(0, 0), size));
    svg.setTitle("performer-view");
    {
      QPainter painter(&svg);
      figure.paint(painter);
    }
  } else {
    fail(path, "the file name must end in .png or .svg");
  }
  buffer.close();
  write_bytes(path, bytes);
}

void write_matrix_csv(const QString& path, const Matrix& m, const QStringList& row_labels,
                      const QStringList& col_labels) {
  io::Table table;
  table.header = {"residue"};
  for (int j = 0; j < m.cols; ++j) {
    table.header.push_back((j < col_labels.size() ? col_labels[j] : QString::number(j)).toStdString());
  }
  for (int i = 0; i < m.rows; ++i) {
    std::vector<std::string> row = {(i < row_labels.size() ? row_labels[i] : QString::number(i)).toStdString()};
    for (int j = 0; j < m.cols; ++j) row.push_back(number(m.at(i, j)));
    table.rows.push_back(std::move(row));
  }
  table.write_csv(path.toStdString());
}

void write_similarity_csv(const QString& path, const SimilarityData& data) {
  io::Table table;
  table.header = {"a", "b", data.method.toStdString() + "_similarity", data.reference_name.toStdString()};
  for (int i = 0; i < data.matrix.rows; ++i) {
    for (int j = 0; j < data.matrix.cols; ++j) {
      table.rows.push_back({QString(data.order[i]).toStdString(), QString(data.order[j]).toStdString(),
                            number(data.matrix.at(i, j)), number(data.reference.at(i, j))});
    }
  }
  table.write_csv(path.toStdString());
}

}  // namespace performer::view
