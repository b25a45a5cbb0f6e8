#pragma once
// Files out: a figure as PNG or SVG (by the file's suffix), and the numbers behind it as CSV.
// Errors (a folder that does not exist, an unknown suffix) throw InputError naming the file.
#include <QString>
#include <QStringList>

#include "gui/figure.h"
#include "gui/matrix.h"
#include "gui/view_data.h"

namespace performer::view {

// .png: pixels at `scale` times the figure's size (2 for print); .svg: vector text and lines, heatmaps
// embedded as images at one pixel per cell.
void save_figure(const Figure& figure, const QString& path, double scale = 1);

// A labelled matrix: header "residue", col_labels...; then one row per row label. Numbers keep float precision.
void write_matrix_csv(const QString& path, const Matrix& m, const QStringList& row_labels,
                      const QStringList& col_labels);

// Long format, one row per residue pair: a, b, <method>_similarity, <reference name>.
void write_similarity_csv(const QString& path, const SimilarityData& data);

}  // namespace performer::view
