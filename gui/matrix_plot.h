#pragma once
// One labelled heatmap: title, the visible window of a matrix drawn cell by cell, a label on both axes
// for every k-th row/column (k chosen so labels never overlap), axis titles and a colour legend. The
// head view, the head figure and the similarity figure all draw through this.
#include <QImage>
#include <QPainter>
#include <QRectF>
#include <QStringList>

#include <optional>

#include "gui/colour_scale.h"

namespace performer::view {

struct MatrixPlot {
  QImage image;           // heatmap_image of the whole matrix (x = column, y = row)
  QRectF window;          // the cells shown, in cell units: x = first column, y = first row
  QStringList labels;     // one per row and column (the matrices here are square)
  ColourScale scale;
  QString title;
  QString row_title;      // e.g. "query residue i"
  QString col_title;      // e.g. "key residue j"
  QString value_title;    // the legend's title
};

struct MatrixPlotLayout {
  QRectF title;   // the title line
  QRectF plot;    // the heatmap itself: square, so cells are square
  QRectF legend;  // the colour bar's area
};

// Places title, plot (with room for labels) and legend inside area. longest_label: the widest label text.
MatrixPlotLayout layout_matrix_plot(const QRectF& area, const QFont& font, const QString& longest_label);

void paint_matrix_plot(QPainter& painter, const MatrixPlotLayout& layout, const MatrixPlot& plot);

// The cell (row, column) under a point of the plot area, if any.
std::optional<std::pair<int, int>> cell_at(const MatrixPlotLayout& layout, const QRectF& window, const QPointF& point);

// The widest of the labels (what layout_matrix_plot makes room for).
QString longest_label(const QStringList& labels);

}  // namespace performer::view
